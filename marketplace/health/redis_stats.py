"""`GET /api/v1/health/redis-stats`: the operator's view of Redis, for admins only."""
from __future__ import annotations

from flask import Response

from marketplace.auth.guards import require_user
from marketplace.errors import ServiceUnavailable
from marketplace.health.monitoring import collect
from marketplace.health.routes import bp
from marketplace.http import json_response
from marketplace.redis import REDIS_ERRORS


@bp.get("/redis-stats")
@require_user("admin")
def redis_stats() -> Response:
    """Parsed INFO figures, key counts and alerts; 503 while Redis does not answer."""
    try:
        figures = collect()
    except REDIS_ERRORS as exc:
        raise ServiceUnavailable("Redis is unavailable.") from exc
    return json_response({"success": True, **figures})
