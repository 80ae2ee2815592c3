"""Credential rate limits: per client address (shared by register/login/refresh) and per e-mail."""
from __future__ import annotations

import hashlib

from flask import Response, current_app, request

from marketplace.extensions import limiter
from marketplace.network import client_address


def login_email_key() -> str:
    """The normalised e-mail of a login attempt, hashed (no addresses in Redis key names)."""
    body = request.get_json(silent=True, cache=True)
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str):
        return "login-email:none"
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"login-email:{digest}"


def _failed_login(response: Response) -> bool:
    return response.status_code == 401


auth_rate_limit = limiter.shared_limit(
    lambda: current_app.config["AUTH_RATE_LIMIT"], scope="auth", key_func=client_address
)

login_failure_limit = limiter.limit(
    lambda: current_app.config["LOGIN_FAILURE_LIMIT"],
    key_func=login_email_key,
    scope="login-failures",
    deduct_when=_failed_login,
)
