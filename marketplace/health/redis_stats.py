"""`GET /api/v1/health/redis-stats`: the operator's view of Redis, for admins only."""
from __future__ import annotations

from flask import Response

from marketplace.auth.guards import require_user
from marketplace.health import monitoring
from marketplace.health.routes import bp
from marketplace.http import ok
from marketplace.redis import require

_collect = require("Redis is unavailable.")(monitoring.collect)


@bp.get("/redis-stats")
@require_user("admin")
def redis_stats() -> Response:
    """Parsed INFO figures, key counts and alerts; 503 while Redis does not answer."""
    return ok(**_collect())
