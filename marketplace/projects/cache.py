"""The projects' response cache: the names of its entries, and what a write drops."""
from __future__ import annotations

from marketplace import keys
from marketplace.generations import PROJECTS
from marketplace.projects.query import ListQuery
from marketplace.response_cache import ResponseCache

BASE_PATH = "/api/v1/projects"
# cache:projects:generation, the newest write announced through Redis (see response_cache).
project_cache = ResponseCache(PROJECTS, marker=keys.PROJECTS_MARKER)


def list_key(query: ListQuery) -> str:
    """The list entry of `query` (its canonical form: reordered or defaulted parameters hit
    the same entry)."""
    return f"{BASE_PATH}?{query.canonical()}"


def featured_key() -> str:
    return f"{BASE_PATH}/featured"


def detail_key(project_id: str) -> str:
    return f"{BASE_PATH}/{project_id}"


def drop_stale(generation: int, project_ids: set[str]) -> None:
    """The owner of the projects namespace (`writes.on_write`): after a write commits, Redis
    raises the list marker and drops the touched projects' detail entries."""
    project_cache.announce(generation, (detail_key(pid) for pid in project_ids))
