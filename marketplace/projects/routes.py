"""HTTP routes of the projects domain: parse, call the store, announce writes, respond."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Blueprint, current_app, g, request

from marketplace.auth.guards import require_user
from marketplace.errors import InvalidRequest
from marketplace.extensions import limited_blueprint, limiter
from marketplace.http import json_body, json_response
from marketplace.limit_storage import plan_reads
from marketplace.network import client_address
from marketplace.projects import store
from marketplace.projects.cache import (
    announce_project_write,
    detail_key,
    featured_key,
    list_key,
    project_cache,
)
from marketplace.projects.query import parse_list_query
from marketplace.projects.schemas import ProjectIn, ProjectPatch, ProposalIn, parse_body

bp = limited_blueprint(Blueprint("projects", __name__, url_prefix="/api/v1/projects"))
# One budget per client address for every route of the blueprint, in the shared Redis.
limiter.shared_limit(lambda: current_app.config["PROJECTS_RATE_LIMIT"], scope="projects",
                     key_func=client_address)(bp)


# Public reads: the same bytes for every caller, so they may come from the shared cache.
@bp.get("")  # two rules, not strict_slashes=False: werkzeug then 404s other methods
@bp.get("/")
def list_projects() -> Any:
    query = parse_list_query(request.args)
    return project_cache.serve(list_key(query), lambda: store.list_projects(query))


@bp.get("/featured")
def featured_projects() -> Any:
    if request.args:  # it takes none; refusing them keeps one cache entry
        raise InvalidRequest(details={name[:50]: "is not a known parameter"
                                      for name in request.args})
    return project_cache.serve(featured_key(), store.featured_projects)


@bp.get("/<uuid:project_id>")
def get_project(project_id: UUID) -> Any:
    pid = str(project_id)
    return project_cache.serve(detail_key(pid), lambda: store.get_project(pid), item_id=pid)


# The blueprint's rate-limit check reads these entries in its own round trip: what each
# view above is about to read, or None where the view will refuse the request.
def _list_read() -> list[str] | None:
    try:
        return project_cache.read_keys(list_key(parse_list_query(request.args)))
    except InvalidRequest:
        return None


def _detail_read() -> list[str]:
    pid = str((request.view_args or {})["project_id"])
    return project_cache.read_keys(detail_key(pid), item_id=pid)


plan_reads(f"{bp.name}.{list_projects.__name__}", _list_read)
plan_reads(f"{bp.name}.{featured_projects.__name__}",
           lambda: None if request.args else project_cache.read_keys(featured_key()))
plan_reads(f"{bp.name}.{get_project.__name__}", _detail_read)


# Writes: bearer token only (the guard), then the store's transaction, then the announcement.
@bp.post("")
@bp.post("/")
@require_user("client", "admin")
def create_project() -> Any:
    data = parse_body(ProjectIn, json_body())
    project, generation = store.create_project(g.user["id"], data.model_dump())
    announce_project_write(generation, project["id"])
    return json_response({"success": True, "project": project}, 201)


@bp.patch("/<uuid:project_id>")
@require_user()
def update_project(project_id: UUID) -> Any:
    changes = parse_body(ProjectPatch, json_body()).changes()
    project, generation = store.update_project(str(project_id), g.user, changes)
    announce_project_write(generation, project["id"])
    return json_response({"success": True, "project": project})


@bp.delete("/<uuid:project_id>")
@require_user()
def delete_project(project_id: UUID) -> Any:
    generation = store.delete_project(str(project_id), g.user)
    announce_project_write(generation, str(project_id))
    return json_response({"success": True})


@bp.post("/<uuid:project_id>/proposals")
@require_user("agent")
def create_proposal(project_id: UUID) -> Any:
    data = parse_body(ProposalIn, json_body())
    proposal, generation = store.create_proposal(str(project_id), g.user["id"],
                                                 data.model_dump())
    announce_project_write(generation, str(project_id))
    return json_response({"success": True, "proposal": proposal}, 201)


@bp.get("/<uuid:project_id>/proposals")
@require_user()
def list_proposals(project_id: UUID) -> Any:
    return json_response({"success": True,
                          "data": store.list_proposals(str(project_id), g.user)})


@bp.post("/<uuid:project_id>/proposals/<uuid:proposal_id>/accept")
@require_user()
def accept_proposal(project_id: UUID, proposal_id: UUID) -> Any:
    result, generation = store.accept_proposal(str(project_id), str(proposal_id), g.user)
    announce_project_write(generation, str(project_id))
    return json_response({"success": True, **result})
