"""Who is asking: bearer tokens for every method, the session cookie for safe reads only."""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from flask import current_app, g, request, session
from flask_jwt_extended import get_jwt, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException
from jwt.exceptions import PyJWTError

from marketplace.auth import presence, user_cache
from marketplace.errors import APIError, Forbidden, ServiceUnavailable, Unauthorized

SAFE_METHODS = frozenset({"GET", "HEAD"})
_LAZY_FIELDS = ("email", "name", "created_at")


class LazyUser(dict):
    """`g.user`: id and role from the token; the other fields loaded on first use."""

    def _load(self) -> None:
        if all(dict.__contains__(self, k) for k in _LAZY_FIELDS):
            return
        full = user_cache.get_user(dict.__getitem__(self, "id"))
        if full is None:
            raise Unauthorized()
        for key in _LAZY_FIELDS:
            dict.__setitem__(self, key, full[key])

    def __missing__(self, key: str) -> Any:
        if key in _LAZY_FIELDS:
            self._load()
            return dict.__getitem__(self, key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        self._load()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._load()
        return dict.__len__(self)

    def __contains__(self, key: object) -> bool:
        return key in _LAZY_FIELDS or dict.__contains__(self, key)

    def keys(self) -> Any:
        self._load()
        return dict.keys(self)

    def items(self) -> Any:
        self._load()
        return dict.items(self)

    def values(self) -> Any:
        self._load()
        return dict.values(self)

    def copy(self) -> dict[str, Any]:
        self._load()
        return dict(dict.items(self))

    def __repr__(self) -> str:
        return f"LazyUser({dict.__repr__(self)})"


def _from_token() -> dict[str, Any]:
    verify_jwt_in_request()  # raises; the JWT loaders turn every failure into a 401
    claims = get_jwt()
    user = LazyUser(id=str(claims["sub"]), role=str(claims.get("role", "")))
    hit = user_cache.decode(g.get("prefetched_user"))
    if hit is not None and hit.get("id") == user["id"]:
        for key in _LAZY_FIELDS:
            dict.__setitem__(user, key, hit[key])
    return user


def _from_session() -> dict[str, Any] | None:
    user_id = session.get("user_id")
    if not user_id:
        return None
    return user_cache.get_user(str(user_id))


def _cookie_name() -> str:
    return current_app.config["SESSION_COOKIE_NAME"]


def authenticate(*, prefetch_user: bool = False) -> dict[str, Any]:
    """Set and return `g.user`, or raise the 401 the contract names."""
    if request.headers.get("Authorization"):
        g.prefetch_user = prefetch_user
        user = _from_token()
    elif request.method in SAFE_METHODS and request.cookies.get(_cookie_name()):
        user = _from_session()
        if user is None:
            raise Unauthorized()
    else:
        raise Unauthorized()
    g.user = user
    presence.mark_active(user["id"])
    return user


def require_user(
    *roles: str, prefetch_user: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a view: 401 without valid credentials, 403 when the role is not in `roles`."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = authenticate(prefetch_user=prefetch_user)
            if roles and user["role"] not in roles:
                raise Forbidden()
            return view(*args, **kwargs)

        return wrapper

    return decorate


def current_user() -> dict[str, Any] | None:
    """The authenticated user, or None (never raises for missing or bad credentials)."""
    if "user" in g:
        return g.user
    try:
        return authenticate()
    except ServiceUnavailable:
        raise
    except (APIError, JWTExtendedException, PyJWTError):
        return None
