"""Who may open the operator console, and what protects its forms from other sites.

Two credentials open it, both created by the console's login:

- the admin's server-side session, the same one `POST /api/v1/auth/login` creates, read by
  `auth.guards.authenticate` as on any safe API read;
- the console pass, a cookie beside it: the account's id, its token version, a random id and
  an expiry, signed with SECRET_KEY under a salt of its own, and checked as a bearer token
  is (`auth.guards.account_of`: not revoked, the account there with the same token version;
  from Redis's caches, or PostgreSQL when they cannot be trusted or Redis is down). Sessions
  live in Redis; the pass keeps the console open while Redis is down or after a restart
  emptied it, which is when the console is needed most. Logging out revokes it (a
  `revoked_tokens` row, as a token's jti); a password or role change ends it with the
  account's other tokens.

Form posts (login, logout) must prove they come from the console's own pages: a random token
in a SameSite=Strict, HttpOnly cookie (`__Host-` when cookies are Secure, so no other host
can plant one) and the same value in a hidden field, compared in constant time; a post whose
`Origin` or `Sec-Fetch-Site` names another site is refused whatever it carries.
"""
from __future__ import annotations

import hmac
import re
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from marketplace.auth import revocation
from marketplace.auth.guards import account_of, authenticate
from marketplace.errors import TokenRevoked, Unauthorized

CSRF_FIELD = "csrf_token"
PASS_COOKIE = "admin-pass"  # noqa: S105 (a cookie name, not a password)
CONSOLE_PATH = "/admin"
_SIGNING_SALT = "marketplace.admin.console-pass"
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{43}")  # secrets.token_urlsafe(32)
_SAME_SITE_FETCHES = frozenset({"same-origin", "none"})  # `none`: typed or bookmarked


def _secure() -> bool:
    return bool(current_app.config["SESSION_COOKIE_SECURE"])


# --- the forms' token ------------------------------------------------------------------------


def csrf_cookie() -> tuple[str, str]:
    """(name, path) of the token's cookie: `__Host-` needs Secure and the path `/`."""
    return ("__Host-admin-csrf", "/") if _secure() else ("admin-csrf", CONSOLE_PATH)


def new_form_token() -> str:
    return secrets.token_urlsafe(32)


def form_token() -> str:
    """The token this browser already holds, or a fresh one (send it with `set_form_token`)."""
    held = request.cookies.get(csrf_cookie()[0], "")
    return held if _TOKEN.fullmatch(held) else new_form_token()


def set_form_token(response: Response, token: str) -> None:
    name, path = csrf_cookie()
    response.set_cookie(name, token, path=path, secure=_secure(), httponly=True,
                        samesite="Strict")


def same_site_post() -> bool:
    """True when this form post carries the token its browser holds and names no other site."""
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        return False  # another site, or `null` (a sandboxed or privacy-stripped sender)
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in _SAME_SITE_FETCHES:
        return False
    held = request.cookies.get(csrf_cookie()[0], "")
    sent = request.form.get(CSRF_FIELD, "")
    return bool(_TOKEN.fullmatch(held)) and hmac.compare_digest(held.encode(), sent.encode())


# --- the console pass ------------------------------------------------------------------------


def _signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SIGNING_SALT)


def give_pass(response: Response, user: dict[str, Any]) -> None:
    """Set the console pass of `user` for SESSION_LIFETIME seconds."""
    lifetime = current_app.config["SESSION_LIFETIME"]
    claims = {"sub": user["id"], "tv": user["token_version"], "id": secrets.token_urlsafe(16),
              "exp": int(time.time()) + lifetime}
    response.set_cookie(PASS_COOKIE, _signer().dumps(claims), max_age=lifetime, path=CONSOLE_PATH,
                        secure=_secure(), httponly=True, samesite="Strict")


def _pass_claims() -> dict[str, Any] | None:
    """The claims of the browser's pass when it is genuine and unexpired."""
    raw = request.cookies.get(PASS_COOKIE)
    if not raw:
        return None
    try:
        claims = _signer().loads(raw, max_age=current_app.config["SESSION_LIFETIME"])
    except BadSignature:  # forged, altered, or older than its lifetime
        return None
    if not (isinstance(claims, dict) and isinstance(claims.get("sub"), str)
            and isinstance(claims.get("id"), str) and isinstance(claims.get("tv"), int)
            and isinstance(claims.get("exp"), int) and claims["exp"] > time.time()):
        return None
    return claims


def _pass_holder() -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(account, claims) of a pass that is still good: not revoked, the account unchanged."""
    claims = _pass_claims()
    if claims is None:
        return None
    try:  # the checks a bearer token gets, in its one round trip: the pass id is its jti
        user = account_of({"sub": claims["sub"], "jti": claims["id"], "exp": claims["exp"],
                           "tv": claims["tv"]})
    except (Unauthorized, TokenRevoked):
        return None
    return user, claims


def end_pass(response: Response) -> None:
    """Revoke the browser's pass (raises ServiceUnavailable when PostgreSQL cannot record it,
    so a logout never looks done while the pass still works) and remove its cookie."""
    holder = _pass_holder()
    if holder is not None:
        user, claims = holder
        revocation.revoke(claims["id"], user["id"], claims["exp"])
    response.delete_cookie(PASS_COOKIE, path=CONSOLE_PATH, secure=_secure(), httponly=True,
                           samesite="Strict")


# --- who is asking ---------------------------------------------------------------------------


def console_user() -> dict[str, Any] | None:
    """The account opening the console (also `request.user`), or None: log in first.

    The session (or a bearer token) as the API reads it; else the console pass.
    """
    try:
        return authenticate()
    except Unauthorized:
        pass  # no session (Redis down or emptied, or never logged in): the pass may do
    holder = _pass_holder()
    if holder is None:
        return None
    req = request._get_current_object()
    req.user, req.private = holder[0], True
    return holder[0]
