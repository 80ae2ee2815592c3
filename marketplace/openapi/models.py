"""Response shapes of the contract as pydantic models: the document's schemas come from here."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from marketplace.projects.schemas import STATUSES
from marketplace.projects.serialize import EXCERPT_CHARS

ERROR_CODES = (
    "invalid_json", "invalid_request", "unauthorized", "token_expired", "token_revoked",
    "invalid_credentials", "forbidden", "not_found", "method_not_allowed", "conflict",
    "payload_too_large", "unsupported_media_type", "validation_error", "rate_limited",
    "internal_error", "service_unavailable",
)
ProjectStatus = Literal[STATUSES]  # type: ignore[valid-type]
HEALTH_ERROR = ("What is down, in the contract's words (`Redis is unavailable.`, `Database is "
                "unavailable.`); never a host, port, database name or driver message.")


class Error(BaseModel):
    """The contract's error envelope; `details` only on 400 invalid_request and 422."""

    success: Literal[False]
    error: str
    code: Literal[ERROR_CODES]  # type: ignore[valid-type]
    details: dict[str, str] = Field(default_factory=dict,
                                    description="What is wrong with each field or parameter.")


class Success(BaseModel):
    success: Literal[True]


class User(BaseModel):
    id: UUID
    email: str
    name: str
    role: Literal["client", "agent", "admin"]
    created_at: datetime


class UserOut(Success):
    user: User


class Tokens(UserOut):
    access_token: str
    refresh_token: str


class NewTokens(Success):
    access_token: str
    refresh_token: str


class AccessToken(Success):
    access_token: str


class Project(BaseModel):
    id: UUID
    title: str
    description: str
    budget: float
    skills: list[str]
    status: ProjectStatus
    owner_id: UUID
    deadline: datetime | None
    proposal_count: int = Field(ge=0)
    created_at: datetime
    updated_at: datetime


class ProjectListItem(Project):
    """A project as lists show it: the description is an excerpt (the detail route, and
    every write, answer with the whole project)."""

    description: str = Field(
        max_length=EXCERPT_CHARS,
        description=f"The description, or when it is longer than {EXCERPT_CHARS} characters "
                    "its start, cut at a word boundary where possible and ending with `…` "
                    f"({EXCERPT_CHARS} characters at most, the ellipsis included).")
    description_truncated: bool = Field(
        description="True when `description` is an excerpt; `GET /projects/{project_id}` "
                    "has the whole text.")


class Proposal(BaseModel):
    id: UUID
    project_id: UUID
    agent_id: UUID
    cover_letter: str
    bid_amount: float
    status: Literal["pending", "accepted", "rejected"]
    created_at: datetime


class Pagination(BaseModel):
    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=100)
    total: int = Field(ge=0)
    pages: int = Field(ge=0)


class ProjectOut(Success):
    project: Project


class ProjectPage(Success):
    data: list[ProjectListItem]
    pagination: Pagination


class ProjectArray(Success):
    data: list[ProjectListItem]


class ProposalOut(Success):
    proposal: Proposal


class ProposalArray(Success):
    data: list[Proposal]


class Accepted(Success):
    project: Project
    proposal: Proposal


class Online(Success):
    onlineUsers: int = Field(ge=0)


class ProjectCounts(BaseModel):
    open: int
    in_progress: int
    completed: int
    cancelled: int


class Summary(Success):
    users: int
    projects: ProjectCounts
    proposals: int


class Alive(Success):
    status: Literal["ok"]
    timestamp: datetime


class DependencyUp(Success):
    status: Literal["connected"]
    latency_ms: float
    timestamp: datetime


class DependencyDown(BaseModel):
    """A probe's 503: the error envelope plus the probe's status and time."""

    success: Literal[False]
    status: Literal["disconnected"]
    error: str = Field(description=HEALTH_ERROR)
    code: Literal["service_unavailable"]
    timestamp: datetime


class Ready(Success):
    status: Literal["ok", "degraded"]
    timestamp: datetime


class NotReady(BaseModel):
    success: Literal[False]
    status: Literal["unavailable"]
    error: str = Field(description=HEALTH_ERROR)
    code: Literal["service_unavailable"]
    timestamp: datetime


class Alert(BaseModel):
    metric: Literal["memory", "connections", "keys"]
    value: int
    threshold: int


class RedisStats(Success):
    memory: dict[str, Any]
    clients: dict[str, Any]
    keys: dict[str, Any]
    ops_per_sec: int
    hit_ratio: float | None
    evicted_keys: int
    alerts: list[Alert]


class Document(BaseModel):
    """This document."""

    openapi: Literal["3.1.0"]
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]
