"""Request hygiene shared by every route: request ids, JSON bodies, headers, one log line."""
from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import orjson
from flask import Flask, Response, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from marketplace.errors import APIError, InvalidJSON

log = logging.getLogger("marketplace.request")

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class UnsupportedMediaType(APIError):
    status, code, message = 415, "unsupported_media_type", "Content-Type must be application/json."


def _has_body() -> bool:
    if request.content_length:
        return True
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def json_body() -> dict[str, Any]:
    """The request's JSON object; 415 without the JSON content type, 400 when malformed."""
    if not _has_body():
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


def json_response(payload: Any, status: int = 200) -> Response:
    """Serialise with orjson (faster than the stdlib encoder Flask uses)."""
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")


def register_request_hooks(app: Flask) -> None:
    """Install the before/after hooks every request goes through."""
    hsts = app.config.get("HSTS", False)

    @app.before_request
    def start_request() -> None:
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        if request.routing_exception is not None:
            return  # 404/405 win over anything about the body
        limit = request.max_content_length
        if limit is not None and (request.content_length or 0) > limit:
            raise RequestEntityTooLarge()
        if _has_body() and request.mimetype != "application/json":
            raise UnsupportedMediaType()

    @app.after_request
    def finish_request(response: Response) -> Response:
        if request.method == "OPTIONS" and response.status_code == 200 and not (
            response.content_length
        ):
            response.status_code = 204  # Flask's automatic OPTIONS: an Allow header, no body
        headers = response.headers
        headers["X-Request-ID"] = g.get("request_id") or uuid.uuid4().hex
        headers["X-Content-Type-Options"] = "nosniff"
        if hsts:
            headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        started = g.get("started")
        duration = (time.perf_counter() - started) * 1000 if started else 0.0
        log.info("%s %s %s %d %.1fms", g.get("request_id", "-"), request.method,
                 request.path, response.status_code, duration)
        return response
