"""Builds the OpenAPI 3.1 document from the operations table and the pydantic models."""
from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from marketplace.openapi import models as m
from marketplace.openapi.operations import LINKS, OPERATIONS, Operation
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
# Headers of the answers, in components.headers under these names; two variants of
# Cache-Control. Every answer carries the first two; private answers (they carry credentials
# or depend on who asks) `no-store`; the response cache's public reads the last three.
HEADER_REF = "#/components/headers/{component}"
HEADERS = {
    "X-Request-ID": {
        "description": "The request's id, in every log line of the request: the client's "
                       "own X-Request-ID when it is 1 to 128 of `A-Z a-z 0-9 . _ : -`, a "
                       "fresh one otherwise.",
        "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}},
    "X-Content-Type-Options": {"required": True, "schema": {"type": "string",
                                                             "const": "nosniff"}},
    "Cache-Control-Private": {
        "description": "The answer carries credentials or depends on who asks: no cache "
                       "may keep it.",
        "required": True, "schema": {"type": "string", "const": "no-store"}},
    "Cache-Control-Revalidate": {
        "description": "Any cache may keep the answer but must revalidate it (If-None-Match) "
                       "before using it.",
        "required": True, "schema": {"type": "string", "const": "no-cache"}},
    "ETag": {"description": "The cache entry's version: it changes with every write that "
                            "changes the answer.",
             "required": True, "schema": {"type": "string", "pattern": '^"[0-9]+-[0-9a-f]{8}"$'}},
    "X-Cache": {"description": "HIT when the answer came from the shared Redis cache.",
                "required": True, "schema": {"type": "string", "enum": ["HIT", "MISS"]}},
}
HEADER_NAMES = {"Cache-Control-Private": "Cache-Control",
                "Cache-Control-Revalidate": "Cache-Control"}
EVERY_ANSWER = ("X-Request-ID", "X-Content-Type-Options")
PRIVATE_ANSWER = ("Cache-Control-Private",)
CACHED_ANSWER = ("ETag", "X-Cache", "Cache-Control-Revalidate")
IF_NONE_MATCH = {
    "name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
    "description": "ETags the client holds (or `*`): a 304 without a body when one is the "
                   "current entry's (weak tags compare as strong ones)."}
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


def _headers(*components: str) -> dict[str, Any]:
    """An answer's headers: those of every answer and `components`, by reference."""
    return {HEADER_NAMES.get(component, component): {"$ref": HEADER_REF.format(
        component=component)} for component in (*EVERY_ANSWER, *components)}


def _json(model: type[BaseModel] | None, description: str) -> dict[str, Any]:
    schema = ERROR_REF if model is None else {"$ref": REF.format(model=model.__name__)}
    return {"description": description, "headers": _headers(),
            "content": {"application/json": {"schema": schema}}}


def _private(op: Operation) -> bool:
    """Whether the success answer is private: it carries credentials or depends on who asks."""
    return op.tag == "auth" or op.security is not None


def _responses(op: Operation) -> dict[str, Any]:
    status, model = op.ok
    success = _json(model, "Success.")
    if op.cached:
        success["headers"] = _headers(*CACHED_ANSWER)
    elif _private(op):
        success["headers"] = _headers(*PRIVATE_ANSWER)
    if op.operation_id in LINKS:
        success["links"] = LINKS[op.operation_id]
    responses: dict[str, Any] = {str(status): success}
    if op.cached:
        responses["304"] = {"description": "Not modified: the If-None-Match tag is current.",
                            "headers": _headers(*CACHED_ANSWER)}
    errors = set(op.errors) | set(EVERY_ROUTE)
    if op.needs_db:
        errors.add(503)
    for code in sorted(errors):
        responses[str(code)] = _json(None, ERRORS[code])
        if code == 429:
            responses["429"]["headers"].update(RATE_HEADERS)
    for code, reply in op.responses.items():
        responses[str(code)] = _json(reply, ERRORS.get(code, "See the body."))
    return dict(sorted(responses.items()))


def _operation(op: Operation) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", "format": "uuid"}}
        for name in _PATH_PARAM.findall(op.path)
    ] + op.query + ([IF_NONE_MATCH] if op.cached else [])
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
                 "description": "The contract of docs/api.md as a document: every operation, "
                                "what it takes and what it answers."},
        "paths": paths,
        "components": {"schemas": component_schemas(), "headers": HEADERS,
                       "securitySchemes": SECURITY_SCHEMES},
    }
