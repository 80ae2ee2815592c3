"""Health routes: never rate-limited, never touching the session, each bounded to ~1 s.

They answer anyone, so a failure is said in the contract's words only ("Redis is
unavailable."): the driver's message names hosts, ports, database and user names, which
go to the log (one warning line per failed probe), never into a response.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Blueprint, Response, current_app

from marketplace.errors import error_response
from marketplace.extensions import redis_store
from marketplace.health.probes import ProbeFailed, probe_postgres, probe_redis
from marketplace.http import now_utc, ok

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__, url_prefix="/api/v1/health")

REDIS_DOWN = "Redis is unavailable."
DATABASE_DOWN = "Database is unavailable."


def _failed(name: str, exc: ProbeFailed) -> None:
    log.warning("health probe: %s unavailable: %s", name, exc)


def _dependency(name: str, down: str, probe: Callable[[], float]) -> Response:
    try:
        latency = probe()
    except ProbeFailed as exc:
        _failed(name, exc)
        return error_response(503, "service_unavailable", down, status="disconnected",
                              timestamp=now_utc())
    return ok(status="connected", latency_ms=round(latency, 2), timestamp=now_utc())


@bp.get("")
@bp.get("/")
def alive() -> Response:
    """The process answers; nothing else is checked."""
    return ok(status="ok", timestamp=now_utc())


@bp.get("/redis")
def redis_health() -> Response:
    return _dependency("redis", REDIS_DOWN, lambda: probe_redis(redis_store.handle))


@bp.get("/db")
def db_health() -> Response:
    return _dependency("database", DATABASE_DOWN,
                       lambda: probe_postgres(current_app.config["DATABASE_URL"]))


@bp.get("/ready")
def ready() -> Response:
    """Ready when PostgreSQL answers; Redis down only degrades the service."""
    try:
        probe_postgres(current_app.config["DATABASE_URL"])
    except ProbeFailed as exc:
        _failed("database", exc)
        return error_response(503, "service_unavailable", DATABASE_DOWN, status="unavailable",
                              timestamp=now_utc())
    try:
        probe_redis(redis_store.handle)
        status = "ok"
    except ProbeFailed as exc:
        _failed("redis", exc)
        status = "degraded"
    return ok(status=status, timestamp=now_utc())
