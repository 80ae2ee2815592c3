"""HTTP routes of the auth domain: parse, call the service, respond."""
from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, g, request, session
from flask_jwt_extended import decode_token, get_jwt, jwt_required

from marketplace.auth import presence, revocation, user_cache, users
from marketplace.auth.guards import LazyUser, authenticate, require_user
from marketplace.auth.limits import auth_rate_limit, login_failure_limit
from marketplace.auth.schemas import LoginIn, LogoutIn, RegisterIn, parse
from marketplace.auth.tokens import issue_access_token, issue_tokens
from marketplace.errors import InvalidCredentials, Unauthorized, ValidationFailed
from marketplace.extensions import limited_blueprint
from marketplace.http import json_body, json_response

bp = limited_blueprint(Blueprint("auth", __name__, url_prefix="/api/v1/auth"))


@bp.post("/register")
@auth_rate_limit
def register() -> Any:
    data = parse(RegisterIn, json_body())
    user = users.create_user(data.email, data.password, data.name, data.role)
    presence.mark_active(user["id"], force=True)
    return json_response({"success": True, "user": user, **issue_tokens(user)}, 201)


@bp.post("/login")
@auth_rate_limit
@login_failure_limit
def login() -> Any:
    data = parse(LoginIn, json_body())
    user = users.authenticate(data.email, data.password)
    if user is None:
        raise InvalidCredentials()
    start_session(user)
    presence.mark_active(user["id"], force=True)
    return json_response({"success": True, "user": user, **issue_tokens(user)})


def start_session(user: dict[str, Any]) -> None:
    """A fresh session id at every login: whatever session the request carried is destroyed."""
    if session:  # an unknown cookie id was already replaced by a fresh one when opened
        current_app.session_interface.regenerate(session)
        session.clear()
    session["user_id"] = user["id"]
    session["login_at"] = int(time.time())


@bp.post("/refresh")
@auth_rate_limit
@jwt_required(refresh=True)
def refresh() -> Any:
    user = user_cache.get_user(str(get_jwt()["sub"]))
    if user is None:
        raise Unauthorized()
    presence.mark_active(user["id"])
    return json_response({"success": True, "access_token": issue_access_token(user)})


@bp.post("/logout")
@require_user()
def logout() -> Any:
    claims = get_jwt()
    refresh_claims = _refresh_token_to_revoke()
    revocation.revoke(claims["jti"], g.user["id"], int(claims["exp"]))
    if refresh_claims is not None:
        revocation.revoke(refresh_claims["jti"], g.user["id"], int(refresh_claims["exp"]))
    if session:
        session.clear()  # the interface deletes `session:<id>` and the cookie
    return json_response({"success": True})


def _refresh_token_to_revoke() -> dict[str, Any] | None:
    """The caller's own refresh token, when the logout body names one (optional)."""
    if not request.content_length and "chunked" not in request.headers.get(
        "Transfer-Encoding", ""
    ):
        return None
    data = parse(LogoutIn, json_body())
    try:
        claims = decode_token(data.refresh_token)
    except Exception:  # expired, tampered or not a JWT: nothing to revoke, say so
        raise ValidationFailed(details={"refresh_token": "is not a valid refresh token"}) from None
    if claims.get("type") != "refresh" or str(claims.get("sub")) != g.user["id"]:
        raise ValidationFailed(details={"refresh_token": "is not your refresh token"})
    return claims


@bp.get("/me")
def me() -> Any:
    user = authenticate(prefetch_user=True)
    if not isinstance(user, LazyUser):  # the session path already read the whole record
        record = user
    elif "prefetched_user" in g:  # Redis answered the pipelined GET: hit or known miss
        record = user_cache.get_user(user["id"], g.pop("prefetched_user"), fetched=True)
    else:
        record = user_cache.get_user(user["id"])
    if record is None:
        raise Unauthorized()
    return json_response({"success": True, "user": record})
