"""HTTP routes of the stats domain: online presence and the marketplace summary."""
from __future__ import annotations

from flask import Blueprint, Response, current_app

from marketplace.auth import presence
from marketplace.errors import ServiceUnavailable
from marketplace.generations import PROJECTS
from marketplace.http import json_response
from marketplace.redis import REDIS_ERRORS
from marketplace.response_cache import ResponseCache
from marketplace.stats import store

bp = Blueprint("stats", __name__, url_prefix="/api/v1/stats")

SUMMARY_KEY = "/api/v1/stats/summary"  # cache:/api/v1/stats/summary, SUMMARY_CACHE_TIMEOUT s
# Tagged with the projects generation and read beside the project lists' marker, so a
# project or proposal write makes it stale at once; new users show within the 60 s TTL.
summary_cache = ResponseCache(PROJECTS, marker_key="projects:generation")


@bp.get("/online")
def online() -> Response:
    """One ZCOUNT on the presence sorted set: the cost never depends on the keyspace."""
    try:
        count = presence.count_active()
    except REDIS_ERRORS as exc:
        raise ServiceUnavailable("Online presence is unavailable.") from exc
    return json_response({"success": True, "onlineUsers": count})


@bp.get("/summary")
def summary() -> Response:
    return summary_cache.serve(SUMMARY_KEY, store.summary,
                               timeout=current_app.config["SUMMARY_CACHE_TIMEOUT"])
