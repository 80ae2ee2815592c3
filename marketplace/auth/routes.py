"""HTTP routes of the auth domain: parse, call the service, respond.

Every answer here carries credentials or depends on who asks: `Cache-Control: no-store`.
Register, login, refresh and the password change share AUTH_RATE_LIMIT per client address;
a failed login or a wrong current password also counts against LOGIN_FAILURE_LIMIT for the
account, whatever the address.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, request, session

from marketplace import rate_limits
from marketplace.auth import revocation, tokens, users
from marketplace.auth.guards import (
    account_of,
    authenticate,
    bearer_claims,
    require_user,
    still_speaks_for,
)
from marketplace.auth.schemas import LoginIn, LogoutIn, PasswordChangeIn, RegisterIn, parse
from marketplace.auth.signin import checked_login, start_session
from marketplace.errors import InvalidCredentials, TokenRevoked, Unauthorized
from marketplace.http import has_body, json_body, ok
from marketplace.rate_limits import AUTH, LOGIN_FAILURES, account_key
from marketplace.stats import presence

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


@bp.before_request
def answers_are_private() -> None:
    request.private = True


@bp.post("/register")
@rate_limits.limited(AUTH)
def register() -> Any:
    data = parse(RegisterIn, json_body())
    user = users.create_user(data.email, data.password, data.name, data.role)
    presence.mark_active(user["id"], force=True)
    return ok(201, user=users.public(user), **tokens.issue_tokens(user))


@bp.post("/login")
@rate_limits.limited(AUTH)
def login() -> Any:
    data = parse(LoginIn, json_body())
    user = checked_login(data.email, data.password)
    start_session(user)
    return ok(user=users.public(user), **tokens.issue_tokens(user))


@bp.post("/refresh")
@rate_limits.limited(AUTH)
def refresh() -> Any:
    """A new access token; the account is checked in PostgreSQL, the source of truth."""
    claims = bearer_claims("refresh")
    if revocation.is_revoked(claims["jti"], int(claims["exp"])):
        raise TokenRevoked()
    user = still_speaks_for(claims, users.find_user(claims["sub"]))
    presence.mark_active(user["id"])
    return ok(access_token=tokens.issue_access_token(user))


@bp.post("/password")
@rate_limits.limited(AUTH)
@require_user()
def change_password() -> Any:
    """New tokens for the caller; every earlier token and session of the account ends."""
    data = parse(PasswordChangeIn, json_body())
    user = request.user
    with rate_limits.counting_failures(LOGIN_FAILURES, account_key(user["email"])):
        if users.verify_password(user["id"], data.current_password) is None:
            raise InvalidCredentials("The current password is not correct.")
    changed = users.change_password(user["id"], data.new_password)
    if changed is None:
        raise Unauthorized()
    return ok(**tokens.issue_tokens(changed))


@bp.post("/logout")
@require_user()
def logout() -> Any:
    claims = bearer_claims()
    refresh_claims = _refresh_token_to_revoke(request.user)
    revocation.revoke(claims["jti"], request.user["id"], int(claims["exp"]))
    if refresh_claims is not None:
        revocation.revoke(refresh_claims["jti"], request.user["id"],
                          int(refresh_claims["exp"]))
    if session:
        session.clear()  # the interface deletes the server-side session and the cookie
    return ok()


def _refresh_token_to_revoke(user: dict[str, Any]) -> dict[str, Any] | None:
    """The caller's own refresh token, when the logout body names one (optional); a token
    that is not a valid refresh token of the caller is a 401, and nothing is revoked."""
    if not has_body(request.environ):
        return None
    data = parse(LogoutIn, json_body())
    claims = tokens.verify(data.refresh_token, "refresh")
    if claims["sub"] != user["id"]:
        raise Unauthorized("The refresh token is not yours.")
    account_of(claims)  # revoked, or ended by an account change: nothing left to revoke
    return claims


@bp.get("/me")
def me() -> Any:
    return ok(user=users.public(authenticate()))
