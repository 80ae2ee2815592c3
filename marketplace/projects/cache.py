"""Cache keys of the projects domain and the invalidation every project write announces."""
from __future__ import annotations

from marketplace import keys, writes
from marketplace.generations import PROJECTS
from marketplace.projects.query import ListQuery
from marketplace.response_cache import ResponseCache

BASE_PATH = "/api/v1/projects"
# cache:projects:generation, the newest write announced through Redis (see response_cache).
project_cache = ResponseCache(PROJECTS, marker_key=keys.PROJECTS_MARKER)


def list_key(query: ListQuery) -> str:
    """cache:/api/v1/projects?<canonical query>: reordered or defaulted parameters hit."""
    return f"{BASE_PATH}?{query.canonical()}"


def featured_key() -> str:
    return f"{BASE_PATH}/featured"


def detail_key(project_id: str) -> str:
    return f"{BASE_PATH}/{project_id}"


def announce_project_write(generation: int, project_id: str) -> None:
    """After a write's commit: every list is stale, and so is this project's detail entry."""
    project_cache.announce_write(generation, project_id, (detail_key(project_id),))


def _drop_stale(generation: int, project_ids: set[str]) -> None:
    """The owner of the projects namespace: after a write commits, Redis raises the list
    marker and drops the touched projects' detail entries."""
    project_cache.announce(generation, (detail_key(pid) for pid in project_ids))


writes.on_write(PROJECTS, _drop_stale)
