"""HTTP routes of the projects domain: count, authenticate, parse, call the store, respond.

Reads are public and cached (`project_cache.serve`); writes say what they invalidate in
the store itself (`writes.write`), so no route has to remember it.
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Blueprint, request

from marketplace import rate_limits
from marketplace.auth.guards import require_user
from marketplace.errors import InvalidRequest
from marketplace.http import json_body, ok
from marketplace.projects import store
from marketplace.projects.cache import (
    detail_key,
    featured_key,
    list_key,
    project_cache,
)
from marketplace.projects.query import parse_list_query
from marketplace.projects.schemas import ProjectIn, ProjectPatch, ProposalIn, parse_body

bp = Blueprint("projects", __name__, url_prefix="/api/v1/projects")
# Every route counts against one budget per client address, PROJECTS_RATE_LIMIT: cached reads
# in the cache's own round trip, the others first thing.
PROJECTS = rate_limits.PROJECTS


# Public reads: the same bytes for every caller, so they may come from the shared cache.
@bp.get("")  # two rules, not strict_slashes=False: werkzeug then 404s other methods
@bp.get("/")
def list_projects() -> Any:
    with rate_limits.counted_if_refused(PROJECTS):
        query = parse_list_query(request.args)
    return project_cache.serve(list_key(query), lambda: store.list_projects(query),
                               limit=PROJECTS)


@bp.get("/featured")
def featured_projects() -> Any:
    if request.args:  # it takes none; refusing them keeps one cache entry
        rate_limits.hit(PROJECTS)
        raise InvalidRequest(details={name[:50]: "is not a known parameter"
                                      for name in request.args})
    return project_cache.serve(featured_key(), store.featured_projects, limit=PROJECTS)


@bp.get("/<uuid:project_id>")
def get_project(project_id: UUID) -> Any:
    pid = str(project_id)
    return project_cache.serve(detail_key(pid), lambda: store.get_project(pid), limit=PROJECTS,
                               item_id=pid)


# Writes: bearer token only (the guard), then the store's transaction.
@bp.post("")
@bp.post("/")
@rate_limits.limited(PROJECTS)
@require_user("client", "admin")
def create_project() -> Any:
    data = parse_body(ProjectIn, json_body())
    return ok(201, project=store.create_project(request.user["id"], data.model_dump()))


@bp.patch("/<uuid:project_id>")
@rate_limits.limited(PROJECTS)
@require_user()
def update_project(project_id: UUID) -> Any:
    changes = parse_body(ProjectPatch, json_body()).changes()
    return ok(project=store.update_project(str(project_id), request.user, changes))


@bp.delete("/<uuid:project_id>")
@rate_limits.limited(PROJECTS)
@require_user()
def delete_project(project_id: UUID) -> Any:
    store.delete_project(str(project_id), request.user)
    return ok()


@bp.post("/<uuid:project_id>/proposals")
@rate_limits.limited(PROJECTS)
@require_user("agent")
def create_proposal(project_id: UUID) -> Any:
    data = parse_body(ProposalIn, json_body())
    return ok(201, proposal=store.create_proposal(str(project_id), request.user["id"],
                                                  data.model_dump()))


@bp.get("/<uuid:project_id>/proposals")
@rate_limits.limited(PROJECTS)
@require_user()
def list_proposals(project_id: UUID) -> Any:
    return ok(data=store.list_proposals(str(project_id), request.user))


@bp.post("/<uuid:project_id>/proposals/<uuid:proposal_id>/accept")
@rate_limits.limited(PROJECTS)
@require_user()
def accept_proposal(project_id: UUID, proposal_id: UUID) -> Any:
    return ok(**store.accept_proposal(str(project_id), str(proposal_id), request.user))
