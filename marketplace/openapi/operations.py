"""Every operation of the contract: who may call it, what it takes, what it answers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from marketplace.auth.schemas import LoginIn, LogoutIn, PasswordChangeIn, RegisterIn
from marketplace.openapi import models as m
from marketplace.openapi.refinements import CONTROL_RULE, trimmed
from marketplace.projects.query import SORTS
from marketplace.projects.schemas import STATUSES, ProjectIn, ProjectPatch, ProposalIn

BEARER = [{"bearerAuth": []}]
BEARER_OR_COOKIE = [{"bearerAuth": []}, {"sessionCookie": []}]
REFRESH = [{"refreshToken": []}]


@dataclass(frozen=True)
class Operation:
    """One method on one path; `errors` are the statuses beyond the ones every route shares."""

    method: str
    path: str
    operation_id: str
    summary: str
    ok: tuple[int, type[BaseModel]]
    tag: str
    security: list[dict[str, list[str]]] | None = None
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: list[dict[str, Any]] = field(default_factory=list)
    errors: tuple[int, ...] = ()
    responses: dict[int, type[BaseModel]] = field(default_factory=dict)
    needs_db: bool = True
    cached: bool = False  # a public read of the response cache: ETag, If-None-Match, 304


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


LIST_QUERY = [
    _query("page", {"type": "integer", "minimum": 1, "maximum": 100_000, "default": 1},
           "Page number."),
    _query("per_page", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
           "Projects per page."),
    _query("status", {"type": "string", "enum": list(STATUSES)}, "Only projects in this status."),
    _query("skill", {"type": "string", "pattern": trimmed(1, 50)},
           "Only projects tagged with this skill (case-insensitive). Surrounding whitespace "
           "is trimmed; then 1 to 50 characters. " + CONTROL_RULE),
    _query("q", {"type": "string", "pattern": trimmed(0, 200)},
           "Full-text search in title and description (PostgreSQL `websearch_to_tsquery`, "
           "English: stemming, quoted phrases, `-excluded` words). Surrounding whitespace is "
           "trimmed; then at most 200 characters; empty means no search. " + CONTROL_RULE
           + " A search with no word to look up (only stop words such as `a` or `the`, "
           "punctuation, or `-excluded` words) is a 400 `invalid_request` with `details.q`: "
           "it would read every row. The schema cannot say which words PostgreSQL ignores, so "
           "this is the one schema-valid value the server refuses, on purpose."),
    _query("sort", {"type": "string", "enum": list(SORTS), "default": "newest"},
           "`newest` first, or highest `budget` first."),
]


def _link(operation_id: str, description: str, body: dict[str, str] | None = None,
          **parameters: str) -> dict[str, Any]:
    """An OpenAPI link: where the answer's values lead (`path.<name>` = a runtime expression)."""
    link: dict[str, Any] = {"operationId": operation_id, "description": description}
    if parameters:
        link["parameters"] = {f"path.{name}": value for name, value in parameters.items()}
    if body is not None:
        link["requestBody"] = body
    return link


def _project_links(project_id: str, *operations: str) -> dict[str, dict[str, Any]]:
    """Links to the operations on the project whose id is at `project_id`."""
    described = {
        "getProject": "The project, as everyone sees it.",
        "updateProject": "Change the project (its owner or an admin).",
        "deleteProject": "Delete the project (its owner or an admin).",
        "createProposal": "Propose for the project (an agent).",
        "listProposals": "The project's proposals (its owner or an admin).",
    }
    return {name[0].upper() + name[1:]: _link(name, described[name], project_id=project_id)
            for name in operations}


ANSWERED_PROJECT = "$response.body#/project/id"
PROPOSAL_PROJECT = "$response.body#/proposal/project_id"
EVERY_PROJECT_OPERATION = ("getProject", "updateProject", "deleteProject", "createProposal",
                           "listProposals")
# The success answer's links of each operation (by operationId): how a client, and
# schemathesis's stateful phase, get from a created project to everything done with it.
LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "register": {"Login": _link(
        "login", "Log in with the credentials just registered.",
        body={"email": "$request.body#/email", "password": "$request.body#/password"})},
    "createProject": _project_links(ANSWERED_PROJECT, *EVERY_PROJECT_OPERATION),
    "updateProject": _project_links(ANSWERED_PROJECT, "getProject", "listProposals"),
    "createProposal": {
        "AcceptProposal": _link("acceptProposal", "Accept this proposal (the project's owner).",
                                project_id=PROPOSAL_PROJECT,
                                proposal_id="$response.body#/proposal/id"),
        **_project_links(PROPOSAL_PROJECT, "getProject", "listProposals"),
    },
    "acceptProposal": _project_links(ANSWERED_PROJECT, "getProject", "updateProject",
                                     "listProposals"),
}

# Statuses by cause; an operation lists the causes that apply to it.
BODY = (400, 413, 415, 422)
AUTH = (401,)
LIMITED = (429,)
PROJECT = "/api/v1/projects/{project_id}"

OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/api/v1/health", "health", "The process is alive.", (200, m.Alive),
              "health", needs_db=False),
    Operation("get", "/api/v1/health/redis", "healthRedis", "Redis answers.",
              (200, m.DependencyUp), "health", responses={503: m.DependencyDown},
              needs_db=False),
    Operation("get", "/api/v1/health/db", "healthDb", "PostgreSQL answers.",
              (200, m.DependencyUp), "health", responses={503: m.DependencyDown},
              needs_db=False),
    Operation("get", "/api/v1/health/ready", "healthReady",
              "Ready when PostgreSQL answers; `degraded` while Redis is down.", (200, m.Ready),
              "health", responses={503: m.NotReady}, needs_db=False),
    Operation("get", "/api/v1/health/redis-stats", "redisStats",
              "Redis figures and alerts (admins only).", (200, m.RedisStats), "health",
              BEARER_OR_COOKIE, errors=(401, 403)),
    Operation("post", "/api/v1/auth/register", "register", "Create an account.",
              (201, m.Tokens), "auth", body=RegisterIn, errors=(*BODY, 409, *LIMITED)),
    Operation("post", "/api/v1/auth/login", "login",
              "Log in: tokens, and a fresh server-side session.", (200, m.Tokens), "auth",
              body=LoginIn, errors=BODY + AUTH + LIMITED),
    Operation("post", "/api/v1/auth/refresh", "refresh", "A new access token.",
              (200, m.AccessToken), "auth", REFRESH, errors=(401, 413, 415, *LIMITED)),
    Operation("post", "/api/v1/auth/password", "changePassword",
              "Change the password: new tokens; every earlier token and session of the "
              "account ends.", (200, m.NewTokens), "auth", BEARER, body=PasswordChangeIn,
              errors=BODY + AUTH + LIMITED),
    Operation("post", "/api/v1/auth/logout", "logout",
              "Revoke the access token (and the refresh token named in the body).",
              (200, m.Success), "auth", BEARER, body=LogoutIn, body_required=False,
              errors=BODY + AUTH),
    Operation("get", "/api/v1/auth/me", "me", "The caller.", (200, m.UserOut), "auth",
              BEARER_OR_COOKIE, errors=AUTH),
    Operation("get", "/api/v1/projects", "listProjects",
              "Projects, filtered and paginated; descriptions as excerpts.",
              (200, m.ProjectPage), "projects", query=LIST_QUERY, errors=(400, *LIMITED),
              cached=True),
    Operation("post", "/api/v1/projects", "createProject", "Post a project (client or admin).",
              (201, m.ProjectOut), "projects", BEARER, body=ProjectIn,
              errors=BODY + AUTH + (403,) + LIMITED),
    Operation("get", "/api/v1/projects/featured", "featuredProjects",
              "Open projects with the highest budgets, descriptions as excerpts; takes no "
              "parameters.",
              (200, m.ProjectArray), "projects", errors=(400, *LIMITED), cached=True),
    Operation("get", PROJECT, "getProject", "One project.", (200, m.ProjectOut), "projects",
              errors=(404, *LIMITED), cached=True),
    Operation("patch", PROJECT, "updateProject", "Change a project (owner or admin).",
              (200, m.ProjectOut), "projects", BEARER, body=ProjectPatch,
              errors=BODY + AUTH + (403, 404, 409) + LIMITED),
    Operation("delete", PROJECT, "deleteProject", "Delete a project (owner or admin).",
              (200, m.Success), "projects", BEARER, errors=(*AUTH, 403, 404, *LIMITED)),
    Operation("post", PROJECT + "/proposals", "createProposal", "Propose (agents only).",
              (201, m.ProposalOut), "projects", BEARER, body=ProposalIn,
              errors=BODY + AUTH + (403, 404, 409) + LIMITED),
    Operation("get", PROJECT + "/proposals", "listProposals",
              "The project's proposals (owner or admin).", (200, m.ProposalArray), "projects",
              BEARER_OR_COOKIE, errors=(*AUTH, 403, 404, *LIMITED)),
    Operation("post", PROJECT + "/proposals/{proposal_id}/accept", "acceptProposal",
              "Accept a proposal: the project goes in_progress, the others are rejected.",
              (200, m.Accepted), "projects", BEARER,
              errors=(*AUTH, 403, 404, 409, 413, 415, *LIMITED)),
    Operation("get", "/api/v1/stats/online", "onlineUsers",
              "Distinct users active in the last ACTIVE_USER_WINDOW seconds (503 without Redis).",
              (200, m.Online), "stats"),
    Operation("get", "/api/v1/stats/summary", "summary", "Counts of the marketplace.",
              (200, m.Summary), "stats", cached=True),
    Operation("get", "/api/v1/openapi.json", "openapi", "This document.", (200, m.Document),
              "meta", needs_db=False),
)
