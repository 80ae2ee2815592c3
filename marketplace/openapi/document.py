"""Builds the OpenAPI 3.1 document from the operations table and the pydantic models."""
from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from marketplace.openapi import models as m
from marketplace.openapi.operations import OPERATIONS, Operation
from marketplace.openapi.refinements import refine

REF = "#/components/schemas/{model}"
ERROR_REF = {"$ref": REF.format(model="Error")}
_PATH_PARAM = re.compile(r"\{(\w+)\}")

# Why each error status happens; the shared component `Error` is the body of every one.
ERRORS: dict[int, str] = {
    400: "`invalid_json`: the body is not valid JSON or not an object; `invalid_request`: "
         "a query parameter is unknown, repeated, out of range or of the wrong type, holds "
         "a control character, or (`q`) has no word to look up (`details` per parameter).",
    401: "`unauthorized` (no or malformed credentials), `token_expired`, `token_revoked` "
         "or `invalid_credentials`.",
    403: "`forbidden`: authenticated, but the role or ownership does not allow it.",
    404: "`not_found`: no such resource (an id that is not a UUID is an unknown route).",
    409: "`conflict`: e-mail already registered, duplicate proposal, project not open, or a "
         "status change the project's state does not allow.",
    413: "`payload_too_large`: a body over MAX_CONTENT_LENGTH (any route, with or without "
         "Content-Length).",
    415: "`unsupported_media_type`: a body sent without `Content-Type: application/json` "
         "(any route).",
    422: "`validation_error`: well-formed JSON with invalid or unknown fields (`details` per "
         "field).",
    429: "`rate_limited`: too many requests from this client address (or failed logins for "
         "this e-mail); `Retry-After` says when to come back.",
    500: "`internal_error`: a bug, logged with the request id; never detailed.",
    503: "`service_unavailable`: PostgreSQL (or, where the route needs it, Redis) is down.",
}
EVERY_ROUTE = (413, 415, 500)
RATE_HEADERS = {
    "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer",
                                                                   "minimum": 1}},
    "X-RateLimit-Limit": {"schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"description": "Unix time the window resets.",
                          "schema": {"type": "integer"}},
}
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "An access token (HS256, ACCESS_TOKEN_TTL seconds)."},
    "refreshToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                     "description": "A refresh token (REFRESH_TOKEN_TTL seconds)."},
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session",
                      "description": "The server-side session set at login; GET/HEAD only."},
}


def _models() -> list[tuple[type[BaseModel], str]]:
    bodies = {op.body for op in OPERATIONS if op.body is not None}
    replies = {op.ok[1] for op in OPERATIONS} | {
        model for op in OPERATIONS for model in op.responses.values()} | {m.Error}
    return ([(model, "validation") for model in sorted(bodies, key=lambda c: c.__name__)]
            + [(model, "serialization") for model in sorted(replies, key=lambda c: c.__name__)])


def component_schemas() -> dict[str, Any]:
    """Every model's JSON Schema under its class name, request bodies refined."""
    _, top = models_json_schema(_models(), ref_template=REF)
    schemas = top.get("$defs", {})
    return {name: refine(name, schema) for name, schema in schemas.items()}


def _json(model: type[BaseModel] | None, description: str) -> dict[str, Any]:
    if model is None:
        return {"description": description, "content": {"application/json": {
            "schema": ERROR_REF}}}
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": REF.format(model=model.__name__)}}}}


def _responses(op: Operation) -> dict[str, Any]:
    status, model = op.ok
    responses: dict[str, Any] = {str(status): _json(model, "Success.")}
    errors = set(op.errors) | set(EVERY_ROUTE)
    if op.needs_db:
        errors.add(503)
    for code in sorted(errors):
        responses[str(code)] = _json(None, ERRORS[code])
        if code == 429:
            responses["429"]["headers"] = RATE_HEADERS
    for code, reply in op.responses.items():
        responses[str(code)] = _json(reply, ERRORS.get(code, "See the body."))
    return dict(sorted(responses.items()))


def _operation(op: Operation) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", "format": "uuid"}}
        for name in _PATH_PARAM.findall(op.path)
    ] + op.query
    spec: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary,
                            "tags": [op.tag], "responses": _responses(op)}
    if parameters:
        spec["parameters"] = parameters
    if op.security is not None:
        spec["security"] = op.security
    if op.body is not None:
        spec["requestBody"] = {"required": op.body_required, "content": {"application/json": {
            "schema": {"$ref": REF.format(model=op.body.__name__)}}}}
    return spec


@cache
def build_document() -> dict[str, Any]:
    """The whole document; built once per process (it depends on code only)."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Marketplace API", "version": "1.0.0",
                 "description": "The contract (API.md) as a document; see docs/api.md."},
        "paths": paths,
        "components": {"schemas": component_schemas(), "securitySchemes": SECURITY_SCHEMES},
    }
