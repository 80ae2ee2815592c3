"""Who is asking: a bearer token on any method, the session cookie on safe reads only.

A bearer request costs one Redis round trip: the token's revocation bucket and the cached
user record are read together; PostgreSQL answers only when Redis cannot be trusted or is
down. The token is refused (401) when it is revoked, when its account no longer exists, or
when the account changed since it was issued (its `tv` is not the account's token version).
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app, request, session

from marketplace import keys
from marketplace.auth import revocation, tokens, user_cache
from marketplace.errors import Forbidden, TokenRevoked, Unauthorized
from marketplace.extensions import redis_store
from marketplace.redis import degrade
from marketplace.stats import presence

SAFE_METHODS = frozenset({"GET", "HEAD"})


@degrade(None)
def _read(jti: str, exp: int, user_id: str) -> list[Any] | None:
    """The revocation bucket and the cached user, in one round trip (None: Redis is down)."""
    return redis_store.handle.round_trip(revocation.check_command(jti, exp),
                                         ("GET", keys.user(user_id)))


def account_of(claims: dict[str, Any]) -> dict[str, Any]:
    """The account a verified token speaks for, if the token still may (else 401)."""
    user_id, jti, exp = claims["sub"], claims["jti"], int(claims["exp"])
    replies = _read(jti, exp, user_id)
    bucket, cached = replies if replies is not None else (None, None)
    if revocation.answer(bucket, jti, exp):
        raise TokenRevoked()
    return still_speaks_for(claims, user_cache.resolve(user_id, cached))


def still_speaks_for(claims: dict[str, Any], user: dict[str, Any] | None) -> dict[str, Any]:
    """`user` if a token with `claims` may still act for it: the account exists and has not
    changed since the token was issued (401 otherwise)."""
    if user is None:
        raise Unauthorized()
    if claims.get("tv", 0) != user["token_version"]:
        raise TokenRevoked("Token is no longer valid: the account has changed.")
    return user


def bearer_claims(kind: str = "access") -> dict[str, Any]:
    """The verified claims of the request's bearer token of `kind` (401 without one)."""
    scheme, _, token = request.environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized()
    return tokens.verify(token.strip(), kind)


def _from_session() -> dict[str, Any] | None:
    user_id = session.get("user_id")
    if not user_id:
        return None
    user = user_cache.get_user(str(user_id))
    if user is None or session.get("token_version", 0) != user["token_version"]:
        return None
    return user


def authenticate() -> dict[str, Any]:
    """Set and return `request.user`, or raise the 401 the contract names."""
    req = request._get_current_object()
    if req.environ.get("HTTP_AUTHORIZATION"):
        user = account_of(bearer_claims())
    elif req.method in SAFE_METHODS and current_app.config["SESSION_COOKIE_NAME"] in req.cookies:
        user = _from_session()
        if user is None:
            raise Unauthorized()
    else:
        raise Unauthorized()
    req.user = user
    req.private = True
    presence.mark_active(user["id"])
    return user


def require_user(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a view: 401 without valid credentials, 403 when the role is not in `roles`."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = authenticate()
            if roles and user["role"] not in roles:
                raise Forbidden()
            return view(*args, **kwargs)

        return wrapper

    return decorate
