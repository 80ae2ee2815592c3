"""Health routes: never rate-limited, never touching the session, each bounded to ~1 s.

They answer anyone, so a failure is said in the contract's words only ("Redis is
unavailable."): the driver's message names hosts, ports, database and user names, which
go to the log (one warning line per failed probe), never into a response.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app

from marketplace.extensions import redis_store
from marketplace.health.probes import ProbeFailed, probe_postgres, probe_redis
from marketplace.http import json_response

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__, url_prefix="/api/v1/health")

REDIS_DOWN = "Redis is unavailable."
DATABASE_DOWN = "Database is unavailable."


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _failed(name: str, exc: ProbeFailed) -> None:
    log.warning("health probe: %s unavailable: %s", name, exc)


def _dependency(name: str, down: str, probe: Callable[[], float]) -> Response:
    try:
        latency = probe()
    except ProbeFailed as exc:
        _failed(name, exc)
        return json_response(
            {"success": False, "status": "disconnected", "error": down,
             "code": "service_unavailable", "timestamp": _now()},
            503,
        )
    return json_response(
        {"success": True, "status": "connected", "latency_ms": round(latency, 2),
         "timestamp": _now()}
    )


@bp.get("")
@bp.get("/")
def alive() -> Response:
    """The process answers; nothing else is checked."""
    return json_response({"success": True, "status": "ok", "timestamp": _now()})


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
        return json_response(
            {"success": False, "status": "unavailable", "error": DATABASE_DOWN,
             "code": "service_unavailable",
             "timestamp": _now()},
            503,
        )
    try:
        probe_redis(redis_store.handle)
        status = "ok"
    except ProbeFailed as exc:
        _failed("redis", exc)
        status = "degraded"
    return json_response({"success": True, "status": status, "timestamp": _now()})
