"""HTTP routes of the stats domain: online presence and the marketplace summary."""
from __future__ import annotations

from flask import Blueprint, Response, current_app

from marketplace import keys
from marketplace.generations import PROJECTS
from marketplace.http import ok
from marketplace.response_cache import ResponseCache
from marketplace.stats import presence, store

bp = Blueprint("stats", __name__, url_prefix="/api/v1/stats")

SUMMARY_KEY = "/api/v1/stats/summary"  # a cache entry, SUMMARY_CACHE_TIMEOUT s
# Tagged with the projects generation and read beside the project lists' marker, so a
# project or proposal write makes it stale at once; new users show within the 60 s TTL.
summary_cache = ResponseCache(PROJECTS, marker=keys.PROJECTS_MARKER)


@bp.get("/online")
def online() -> Response:
    """One ZCOUNT on the presence sorted set: the cost never depends on the keyspace."""
    return ok(onlineUsers=presence.count_active())


@bp.get("/summary")
def summary() -> Response:
    return summary_cache.serve(SUMMARY_KEY, store.summary,
                               timeout=current_app.config["SUMMARY_CACHE_TIMEOUT"])
