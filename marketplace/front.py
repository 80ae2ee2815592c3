"""The first stage of every request: cached public reads answered before Flask's dispatch.

A cached read needs one Redis round trip (its rate-limit count and its entry) and a few
headers; Flask's dispatch around it (contexts, URL matching, hooks, a response object) costs
more Python than all of that (docs/performance.md). So the app's WSGI callable is
`CachedReads`, which answers what it can and hands everything else to Flask:

- It answers only a request it knows: an anonymous GET (no `Authorization`, no cookie, no
  body) whose exact path and query string a route of this process has already resolved to a
  response-cache entry (`ResponseCache.serve` teaches it, `learn`), and only while Redis is
  not known to be down and no periodic job is due (the jobs run after a Flask response).
- It counts and reads in the round trip the route would make (`rate_limits.count_and_read`)
  and, when the entry is fresh, answers it as the route would: the cache's 200 or 304
  (`response_cache.validator`), the pipeline's headers (`http.security_headers`), the same
  counters, Prometheus figures and access line.
- Whatever else the round trip found goes to Flask with the request (`ReadFirst` under
  `READ_FIRST`, with its id and start under `http.BEGUN`): a missing or stale entry is built
  by the route's single-flight miss, a refusal is Flask-Limiter's 429 through the error
  handlers, a failed round trip the degraded path; none of them counts or reads again.

Everything a request is answered with is decided by the code the Flask path uses; this
module only decides which stage runs it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, Request
from flask_limiter import RateLimitExceeded

from marketplace import logs, metrics
from marketplace.http import BEGUN, has_body, request_id_of, security_headers
from marketplace.network import client_address, rate_limit_key
from marketplace.rate_limits import count_and_read
from marketplace.response_cache import COUNTERS, READ_FIRST, ReadFirst, read, validator

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from marketplace.rate_limits import ServiceLimit
    from marketplace.response_cache import ResponseCache

log = logging.getLogger(__name__)

KNOWN_READS = 10_000  # requests a process remembers the entry of (cleared when full)
_HIT = COUNTERS["hit"]


@dataclass(frozen=True)
class KnownRead:
    """What a request resolves to: its cache and entry, its limit and its route's label."""

    cache: ResponseCache
    name: str
    item_id: str | None
    limit: ServiceLimit | None
    route: str


def _anonymous_get(environ: dict[str, Any]) -> bool:
    """A GET whose answer can depend on nothing but its path and query string."""
    return (environ["REQUEST_METHOD"] == "GET" and "HTTP_AUTHORIZATION" not in environ
            and "HTTP_COOKIE" not in environ and not environ.get("SCRIPT_NAME")
            and not has_body(environ))


class CachedReads:
    """The app's WSGI callable: known cached reads answered here, the rest by Flask."""

    def __init__(self, app: Flask) -> None:
        self.flask: Callable[..., Iterable[bytes]] = app.wsgi_app
        self.known: dict[tuple[str, str], KnownRead] = {}
        self.answered = 0  # requests this stage answered (for tests; approximate under threads)
        ext = app.extensions
        self.limits = ext["rate_limits"]
        self.redis = ext["redis"]
        self.generations = ext["generations"]
        self.periodic = ext["periodic"]
        self.observe = ext["prometheus"].observe_request
        self.access = ext["access_log"].write
        self.always = security_headers(app.config)
        self.ipv6_prefix_length = app.config["IPV6_PREFIX_LENGTH"]

    def learn(self, request: Request, cache: ResponseCache, name: str, item_id: str | None,
              limit: ServiceLimit | None) -> None:
        """Called by a route's `ResponseCache.serve`: this request reads entry `name`."""
        environ = request.environ
        if not _anonymous_get(environ) or request.url_rule is None:
            return
        if limit is not None and limit.key is not client_address:
            return  # counted by something this stage cannot see
        if len(self.known) >= KNOWN_READS:
            self.known.clear()
        self.known[environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")] = KnownRead(
            cache, name, item_id, limit, request.url_rule.rule)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        known = self.known.get((environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")))
        if (known is None or not _anonymous_get(environ) or self.periodic.due
                or self.redis.breaker.is_open):
            return self.flask(environ, start_response)
        started = time.perf_counter()
        request_id = request_id_of(environ)
        logs.request_id.set(request_id)
        try:
            entry = self._read(known, environ)
        except Exception:  # never a bare 500 from this stage: Flask answers instead
            log.exception("cached read failed before Flask; handing over")
            entry = None
        if entry is None:
            environ[BEGUN] = (request_id, started)
            return self.flask(environ, start_response)
        generation, body = entry
        held, headers = validator(known.name, generation, "hit",
                                  environ.get("HTTP_IF_NONE_MATCH"))
        if held:
            status, line, body, headers = 304, "304 NOT MODIFIED", b"", [*headers]
        else:
            status, line = 200, "200 OK"
            headers = [("Content-Type", "application/json"),
                       ("Content-Length", str(len(body))), *headers]
        headers.append(("X-Request-ID", request_id))
        headers.extend(self.always)
        start_response(line, headers)
        metrics.incr_all(_HIT)
        duration = round((time.perf_counter() - started) * 1000, 1)
        self.observe("GET", known.route, status, duration / 1000, "hit")
        self.access(request_id, "GET", known.route, status, duration, None)
        logs.request_id.set(None)
        self.answered += 1
        return [body]

    def _read(self, known: KnownRead, environ: dict[str, Any]) -> tuple[int, bytes] | None:
        """The fresh entry, counted; None after leaving what was found for Flask."""
        read_keys = known.cache.read_keys(known.name, known.item_id)
        try:
            if known.limit is None:
                values = read(self.redis, read_keys)
            else:
                client = rate_limit_key(environ.get("REMOTE_ADDR"), self.ipv6_prefix_length)
                values = count_and_read(self.limits, self.redis, known.limit, client,
                                        read_keys)
        except RateLimitExceeded as exc:
            environ[READ_FIRST] = ReadFirst(known.name, None, exc)
            return None
        entry = (None if values is None
                 else known.cache.fresh(values, known.item_id, self.generations))
        if entry is None:
            environ[READ_FIRST] = ReadFirst(known.name, values)
        return entry


def install(app: Flask) -> CachedReads:
    """Put the front before Flask: the app's WSGI callable becomes `CachedReads`."""
    front = CachedReads(app)
    app.extensions["front"] = front
    app.wsgi_app = front  # type: ignore[method-assign]
    return front
