"""Read-through cache of users in Redis (`user:<id>`), invalidated on every change."""
from __future__ import annotations

from typing import Any

import orjson
from flask import current_app

from marketplace.auth import users
from marketplace.extensions import redis_store
from marketplace.redis import REDIS_ERRORS, fallback_on_redis_error

USER_PREFIX = "user:"


def user_key(user_id: str) -> str:
    return f"{USER_PREFIX}{user_id}"


def decode(raw: bytes | None) -> dict[str, Any] | None:
    """A cached entry, or None when absent or unreadable."""
    if not raw:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) and "id" in value else None


def get_user(
    user_id: str, cached: bytes | None = None, *, fetched: bool = False
) -> dict[str, Any] | None:
    """The user through `user:<id>`; PostgreSQL when absent or Redis is down.

    `fetched=True` says the caller already read the key (pipelined) and got `cached`.
    """
    if fetched:
        hit = decode(cached)
    else:
        try:
            hit = decode(redis_store.client.get(user_key(user_id)))
        except REDIS_ERRORS:
            return users.find_user(user_id)  # Redis down: no point writing back
    if hit is not None:
        return hit
    user = users.find_user(user_id)
    if user is not None:
        store(user)
    return user


@fallback_on_redis_error(None)
def store(user: dict[str, Any]) -> None:
    """Cache the public fields only (the hash never leaves PostgreSQL)."""
    public = {k: user[k] for k in ("id", "email", "name", "role", "created_at")}
    redis_store.client.set(
        user_key(public["id"]), orjson.dumps(public), ex=current_app.config["USER_CACHE_TTL"]
    )


@fallback_on_redis_error(None)
def invalidate(user_id: str) -> None:
    """Call after any change of the user (role, name, e-mail, password)."""
    redis_store.client.delete(user_key(user_id))
