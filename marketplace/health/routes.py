"""Health routes: never rate-limited, never touching the session, each bounded to ~1 s."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, current_app

from marketplace.extensions import redis_store
from marketplace.health.probes import ProbeFailed, probe_postgres, probe_redis
from marketplace.http import json_response

bp = Blueprint("health", __name__, url_prefix="/api/v1/health")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _dependency(probe: object) -> Response:
    try:
        latency = probe()  # type: ignore[operator]
    except ProbeFailed as exc:
        return json_response(
            {"success": False, "status": "disconnected", "error": str(exc),
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
    return _dependency(lambda: probe_redis(redis_store.handle))


@bp.get("/db")
def db_health() -> Response:
    return _dependency(lambda: probe_postgres(current_app.config["DATABASE_URL"]))


@bp.get("/ready")
def ready() -> Response:
    """Ready when PostgreSQL answers; Redis down only degrades the service."""
    try:
        probe_postgres(current_app.config["DATABASE_URL"])
    except ProbeFailed as exc:
        return json_response(
            {"success": False, "status": "unavailable", "error": f"database: {exc}",
             "code": "service_unavailable",
             "timestamp": _now()},
            503,
        )
    try:
        probe_redis(redis_store.handle)
        status = "ok"
    except ProbeFailed:
        status = "degraded"
    return json_response({"success": True, "status": status, "timestamp": _now()})
