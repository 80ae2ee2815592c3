"""The service seen by Prometheus: request, cache, limit and dependency metrics, and the
`GET /metrics` exposition a scraper reads (with `Authorization: Bearer <METRICS_TOKEN>`).

Counted with `prometheus_client`. Under gunicorn it runs in its multiprocess mode:
`gunicorn.conf.py` gives each instance a PROMETHEUS_MULTIPROC_DIR before the workers start,
every worker writes its values there (memory-mapped files), and a scrape, answered by any
one worker, sums them all; a worker that exits leaves its counts behind, so totals survive
a worker restart. Without that directory (the flask CLI, the test client) the app counts in
its own registry.

Labels stay bounded: `route` is the URL rule (`/api/v1/projects/<uuid:project_id>`, never
the path), one value for every unmatched request; `method` is one of the HTTP methods the
service knows, or `OTHER`.
"""
from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

from marketplace.errors import Unauthorized

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds; the cached reads live in the first buckets, cache misses and writes further out.
BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """One app's metrics; `observe_request` is the only call made on every request."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # How prometheus_client counts in this process, fixed when it was first imported
        # (PROMETHEUS_MULTIPROC_DIR set then or not); the exposition reads the same way.
        self.multiprocess = values.ValueClass is not values.MutexValue
        r = self.registry
        self.requests = Counter("marketplace_http_requests", "HTTP requests answered.",
                                ["method", "route", "status"], registry=r)
        self.durations = Histogram(
            "marketplace_http_request_duration_seconds", "Time from the request's start "
            "in the app to its response.", ["method", "route"], buckets=BUCKETS, registry=r)
        self.cache = Counter("marketplace_cache_requests", "Cacheable reads, by what the "
                             "response cache did.", ["result"], registry=r)
        self.rate_limited = Counter("marketplace_rate_limited", "Requests refused with 429.",
                                    ["scope"], registry=r)
        self.redis_outages = Counter("marketplace_redis_outages", "Redis outages the "
                                     "processes' circuit breakers saw start.", registry=r)
        self.redis_up = Gauge("marketplace_redis_up", "1 while every worker's breaker sees "
                              "Redis answer.", registry=r, multiprocess_mode="livemin")
        self.redis_pool_in_use = Gauge("marketplace_redis_pool_in_use", "Redis connections "
                                       "lent out.", registry=r, multiprocess_mode="livesum")
        self.db_pool_in_use = Gauge("marketplace_db_pool_in_use", "PostgreSQL connections "
                                    "lent out.", registry=r, multiprocess_mode="livesum")
        self._requests: dict[tuple[str, str, int], Any] = {}
        self._durations: dict[tuple[str, str], Any] = {}
        self._cache_results = {result: self.cache.labels(result)
                               for result in ("hit", "miss", "not_stored")}

    def observe_request(self, method: str, route: str, status: int, seconds: float,
                        cache_result: str | None) -> None:
        """Count one answered request (children are looked up once per label set)."""
        if method not in METHODS:
            method = "OTHER"
        counted = self._requests.get((method, route, status))
        if counted is None:
            counted = self._requests[method, route, status] = self.requests.labels(
                method, route, str(status))
        counted.inc()
        timed = self._durations.get((method, route))
        if timed is None:
            timed = self._durations[method, route] = self.durations.labels(method, route)
        timed.observe(seconds)
        if cache_result is not None:
            self._cache_results[cache_result].inc()

    def sample(self, app: Flask) -> None:
        """This process's gauges (a periodic job, and just before a scrape)."""
        handle = app.extensions["redis"]
        self.redis_up.set(0 if handle.breaker.is_open else 1)
        self.redis_pool_in_use.set(handle.in_use())
        self.db_pool_in_use.set(app.extensions["database"].in_use())

    def exposition(self) -> bytes:
        if self.multiprocess:
            summed = CollectorRegistry()
            multiprocess.MultiProcessCollector(summed)
            return generate_latest(summed)
        return generate_latest(self.registry)


def init_app(app: Flask) -> Metrics:
    """The app's metrics; `/metrics` exists only when METRICS_TOKEN is set."""
    metrics = Metrics()
    app.extensions["prometheus"] = metrics
    app.extensions["redis"].breaker.on_outage(metrics.redis_outages.inc)
    if app.config["METRICS_TOKEN"]:
        app.register_blueprint(bp)
    return metrics


bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def exposition() -> Response:
    """Every worker's figures in the Prometheus text format, for a scraper holding the token."""
    scheme, _, token = request.environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    expected = current_app.config["METRICS_TOKEN"]
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                            expected.encode()):
        raise Unauthorized()
    metrics = current_app.extensions["prometheus"]
    metrics.sample(current_app._get_current_object())  # type: ignore[attr-defined]
    response = Response(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response
