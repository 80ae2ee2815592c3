"""The contract's error envelope: domain exceptions, and the one place that renders an error.

Domain code raises an `APIError` subclass (or lets werkzeug raise its HTTP errors); the
handlers registered here turn every exception into `{"success": false, "error", "code"}`
(plus `details` for input errors) with orjson, the service's one JSON encoder. No other
module builds an error body.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from flask import Flask, Response, current_app, request
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

RATE_LIMITED_MESSAGE = "Too many requests, please try again later."


class APIError(Exception):
    """An error the client caused or must know about, carrying its status and code."""

    status = 500
    code = "internal_error"
    message = "Internal server error."

    def __init__(self, message: str | None = None, *, details: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details
        self.headers = headers or {}


class InvalidJSON(APIError):
    status, code, message = 400, "invalid_json", "Request body must be a JSON object."


class InvalidRequest(APIError):
    status, code, message = 400, "invalid_request", "Invalid query parameters."


class Unauthorized(APIError):
    status, code, message = 401, "unauthorized", "Unauthorized"


class TokenExpired(APIError):
    status, code, message = 401, "token_expired", "Token has expired."


class TokenRevoked(APIError):
    status, code, message = 401, "token_revoked", "Token has been revoked."


class InvalidCredentials(APIError):
    status, code, message = 401, "invalid_credentials", "Invalid e-mail or password."


class Forbidden(APIError):
    status, code, message = 403, "forbidden", "You are not allowed to do this."


class NotFound(APIError):
    status, code, message = 404, "not_found", "Resource not found."


class Conflict(APIError):
    status, code, message = 409, "conflict", "Conflict."


class UnsupportedMediaType(APIError):
    status, code, message = 415, "unsupported_media_type", "Content-Type must be application/json."


class ValidationFailed(APIError):
    status, code, message = 422, "validation_error", "Invalid fields."


class ServiceUnavailable(APIError):
    status, code, message = 503, "service_unavailable", "Service unavailable."


# How werkzeug's HTTP errors map onto the contract's codes and sentences.
HTTP_CODES: dict[int, tuple[str, str]] = {
    400: ("invalid_request", "Bad request."),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "You are not allowed to do this."),
    404: ("not_found", "Resource not found."),
    405: ("method_not_allowed", "Method not allowed."),
    413: ("payload_too_large", "Request body is too large."),
    415: ("unsupported_media_type", "Content-Type must be application/json."),
    429: ("rate_limited", RATE_LIMITED_MESSAGE),
    431: ("invalid_request", "Request headers are too large."),
    503: ("service_unavailable", "Service unavailable."),
}


def error_response(http_status: int, code: str, message: str,
                   details: dict[str, str] | None = None, /, **extra: Any) -> Response:
    """The JSON envelope of an error (never carrying internals); `extra` adds fields beside
    it, as the health probes' `status` and `timestamp`."""
    body: dict[str, Any] = {"success": False, "error": message, "code": code, **extra}
    if details:
        body["details"] = details
    return Response(orjson.dumps(body), status=http_status, mimetype="application/json")


def register_error_handlers(app: Flask) -> None:
    """Turn every exception, HTTP or not, into the contract's JSON."""

    @app.errorhandler(APIError)
    def handle_api_error(exc: APIError) -> Response:
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(RateLimitExceeded)
    def handle_rate_limited(exc: RateLimitExceeded) -> Response:
        return rate_limited_response(exc)

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code, message = HTTP_CODES.get(status, ("internal_error", "Internal server error."))
        response = error_response(status, code, message)
        if status == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response:
        log.exception("unhandled error (request id %s)", getattr(request, "request_id", "-"))
        return error_response(500, "internal_error", "Internal server error.")


def rate_limited_response(exc: RateLimitExceeded) -> Response:
    """429 in the contract's shape, with Retry-After and the X-RateLimit-* headers.

    `exc.window` (set by `marketplace.rate_limits`) says when the breached window resets and
    what is left of it; a client needs those only when it is refused.
    """
    from marketplace import metrics  # it imports the Redis layer, which imports this module

    metrics.incr("rate_limited")
    current_app.extensions["prometheus"].rate_limited.labels(str(exc.limit.scope)).inc()
    response = error_response(429, "rate_limited", RATE_LIMITED_MESSAGE)
    now = time.time()
    reset_at, remaining = getattr(exc, "window", (now + 1, 0))
    reset_at = max(reset_at, now + 1)
    response.headers["Retry-After"] = str(max(1, int(reset_at - now + 0.999)))
    response.headers["X-RateLimit-Limit"] = str(exc.limit.limit.amount)
    response.headers["X-RateLimit-Remaining"] = str(max(0, remaining))
    response.headers["X-RateLimit-Reset"] = str(int(reset_at))
    return response
