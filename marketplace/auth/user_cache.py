"""Read-through cache of user records in Redis (`keys.user(id)`), never older than a change.

An entry is the user's record (public fields and `token_version`, never the hash) plus `gen`,
the `users` generation it was read at. Every change of a user bumps that generation in its
transaction (`writes.write`), and every process hears of it through NOTIFY: an entry older
than a change this process knows of is not used, even if Redis missed the deletion that
follows the commit. So a password change or a role change ends old tokens at once on every
instance, whatever Redis did.
"""
from __future__ import annotations

from typing import Any

import orjson
from flask import current_app

from marketplace import generations as gen
from marketplace import keys
from marketplace.auth import users
from marketplace.extensions import db, generations, redis_store
from marketplace.redis import degrade


def _decode(raw: bytes | None, user_id: str) -> dict[str, Any] | None:
    """A cached entry that is still fresh, or None."""
    if not raw:
        return None
    try:
        entry = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(entry, dict) or entry.get("id") != user_id:
        return None
    if int(entry.pop("gen", -1)) < generations.required(gen.USERS, user_id):
        return None
    return entry


def resolve(user_id: str, raw: bytes | None) -> dict[str, Any] | None:
    """The user from the entry `raw` (read by the caller, pipelined with its own reads), or
    from PostgreSQL when it is absent or stale (then cached again); None if no such user."""
    hit = _decode(raw, user_id)
    if hit is not None:
        return hit
    with db.transaction(readonly=True) as cur:
        built_at = gen.read(cur, gen.USERS)
        user = users.find_user(user_id, cur)
    if user is not None:
        _store(user, built_at)
    return user


@degrade(None)
def _get(user_id: str) -> bytes | None:
    return redis_store.client.get(keys.user(user_id))


def get_user(user_id: str) -> dict[str, Any] | None:
    """The user through its cached record; PostgreSQL when absent, stale, or Redis is down."""
    return resolve(user_id, _get(user_id))


@degrade(None)
def _store(user: dict[str, Any], built_at: int) -> None:
    redis_store.client.set(keys.user(user["id"]), orjson.dumps({**user, "gen": built_at}),
                           ex=current_app.config["USER_CACHE_TTL"])


@degrade(None)
def drop_stale(_generation: int, user_ids: set[str]) -> None:
    """The owner of the users namespace (`writes.on_write`): after a change commits, drop
    the Redis copies (the generation already made them stale for every process; this only
    frees the memory and saves a comparison)."""
    if user_ids:
        redis_store.client.delete(*(keys.user(user_id) for user_id in user_ids))
