"""The request pipeline every route goes through, and the JSON every success is sent as.

Where a request's path starts and how to follow it, top to bottom:

0. `wsgi.py` → `create_app()` (`marketplace/__init__.py`) built the app, whose WSGI callable
   is the front (`marketplace/front.py`): a known anonymous cached read is answered there,
   with this module's `request_id_of` and `security_headers`; every other request goes on.
1. Flask matches the URL to a route and opens a `Request` (the class below: the one place
   where one step of a request leaves something for a later step).
2. `begin_request` (here): request id, start time, the body checks every route shares.
3. The route (`marketplace/<domain>/routes.py`): parse the input, call its domain
   (`auth.guards.authenticate` for who is asking, `rate_limits.hit` for a limit, the
   domain's store or cache), and answer with `ok(...)`, or raise an `errors.APIError`.
4. `finish_request` (here): response headers, the access log line, and the service's own
   work when it is due (`periodic.py`).

Errors at any step are rendered by `marketplace/errors.py`.
"""
from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from flask import Flask, Response, request
from flask import Request as FlaskRequest
from werkzeug.exceptions import RequestEntityTooLarge

from marketplace import logs
from marketplace.errors import InvalidJSON, UnsupportedMediaType

_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
BEGUN = "marketplace.begun"  # environ: (request id, start) of a request the front began
UNMATCHED_ROUTE = "<unmatched>"  # the route label of a request no URL rule matched
# Blueprints whose routes take HTML form posts (the operator console's login and logout).
FORM_BLUEPRINTS = frozenset({"admin"})


class Request(FlaskRequest):
    """Flask's request, plus what the steps of one request hand to each other.

    Set by `begin_request`: `request_id` (echoed in `X-Request-ID` and every log line of the
    request) and `started` (for the duration). Set by `auth.guards.authenticate`: `user`, the
    caller's public record. Set by a route or the guard: `private`, the answer depends on who
    asks or carries credentials (sent with `Cache-Control: no-store`). Set by the response
    cache: `cache_result` (`hit`, `miss` or `not_stored`).
    """

    request_id: str = "-"
    started: float = 0.0
    user: dict[str, Any] | None = None
    private: bool = False
    cache_result: str | None = None


def iso_utc(moment: datetime | None) -> str | None:
    """Every timestamp of the API: ISO 8601 in UTC with `Z`, whatever the session time zone."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def now_utc() -> str:
    return iso_utc(datetime.now(UTC))  # type: ignore[return-value]


def success_body(**fields: Any) -> bytes:
    """The bytes of `{"success": true, ...fields}`: what `ok` sends and the cache stores."""
    return orjson.dumps({"success": True, **fields})


def ok(http_status: int = 200, /, **fields: Any) -> Response:
    """The contract's success envelope: `{"success": true, ...fields}` (`http_status` is
    positional, so a field may be called `status`)."""
    return Response(success_body(**fields), status=http_status, mimetype="application/json")


def has_body(environ: dict[str, Any]) -> bool:
    length = environ.get("CONTENT_LENGTH")
    if length and length != "0":
        return True
    return "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()


def json_body() -> dict[str, Any]:
    """The request's JSON object; 415 without the JSON content type, 400 when malformed."""
    if not has_body(request.environ):
        raise InvalidJSON("Request body must be a JSON object.")
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    if limit is not None and len(raw) >= limit and request.stream.read(1):
        raise RequestEntityTooLarge()  # a chunked body is cut at the limit, not refused
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidJSON("Request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidJSON("Request body must be a JSON object.")
    return data


def request_id_of(environ: dict[str, Any]) -> str:
    """The client's `X-Request-ID` when it is safe to echo and log, else a new random id."""
    incoming = environ.get("HTTP_X_REQUEST_ID")
    return (incoming if incoming and _SAFE_REQUEST_ID.fullmatch(incoming)
            else os.urandom(16).hex())


def security_headers(cfg: Any) -> list[tuple[str, str]]:
    """The headers every response carries, whichever stage answers it."""
    headers = [("X-Content-Type-Options", "nosniff")]
    if cfg["HSTS"]:
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    return headers


def begin_request() -> None:
    """Request id and start time; 413/415 for a body no route could accept."""
    req = request._get_current_object()  # one proxy lookup for the whole hook
    environ = req.environ
    # A request the front began (it counted and read, then handed over) keeps its id and start.
    begun = environ.get(BEGUN)
    req.request_id, req.started = begun or (request_id_of(environ), time.perf_counter())
    logs.request_id.set(req.request_id)
    if req.routing_exception is not None or not has_body(environ):
        return  # 404/405 win over anything about the body
    limit = req.max_content_length
    if limit is not None and (req.content_length or 0) > limit:
        raise RequestEntityTooLarge()
    if req.mimetype != "application/json" and req.blueprint not in FORM_BLUEPRINTS:
        raise UnsupportedMediaType()


def register_request_hooks(app: Flask) -> None:
    """The one hook before every request and the one after it."""
    periodic = app.extensions["periodic"]
    observe = app.extensions["prometheus"].observe_request
    access = app.extensions["access_log"].write
    always = security_headers(app.config)

    def finish_request(response: Response) -> Response:
        req = request._get_current_object()
        headers = response.headers
        if req.method == "OPTIONS" and response.status_code == 200 and not (
            response.content_length
        ):
            response.status_code = 204  # Flask's automatic OPTIONS: an Allow header, no body
        headers["X-Request-ID"] = req.request_id
        headers.extend(always)
        if req.private:
            headers["Cache-Control"] = "no-store"
        rule = req.url_rule
        route = rule.rule if rule is not None else UNMATCHED_ROUTE
        status = response.status_code
        duration = round((time.perf_counter() - req.started) * 1000, 1)
        user = req.user
        observe(req.method, route, status, duration / 1000, req.cache_result)
        access(req.request_id, req.method, route, status, duration,
               None if user is None else user["id"])
        periodic.tick()
        logs.request_id.set(None)
        return response

    app.request_class = Request
    app.before_request(begin_request)
    app.after_request(finish_request)

