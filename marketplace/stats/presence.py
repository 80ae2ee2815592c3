"""Online presence: one sorted set scored by last activity, so counting never scans keys.

The stats domain owns it (`/stats/online` reads it); the auth guard marks a user active on
every authenticated request, at most once a minute per user and process.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

from flask import current_app

from marketplace import keys
from marketplace.extensions import redis_store
from marketplace.redis import degrade, require

MARK_INTERVAL = 60  # seconds between two writes for the same user from one process
_REMEMBERED = 10_000  # users whose last write this process remembers (bounded memory)

_lock = threading.Lock()
_last_marked: OrderedDict[str, float] = OrderedDict()


def _due(user_id: str, now: float) -> bool:
    """True (and remembered) when this process has not written `user_id` for a while."""
    with _lock:
        last = _last_marked.get(user_id)
        if last is not None and now - last < MARK_INTERVAL:
            return False
        _last_marked[user_id] = now
        _last_marked.move_to_end(user_id)
        while len(_last_marked) > _REMEMBERED:
            _last_marked.popitem(last=False)
        return True


def _forget(user_id: str) -> None:
    with _lock:
        _last_marked.pop(user_id, None)


def mark_active(user_id: str, *, force: bool = False) -> None:
    """Record activity; at most one Redis write per user per minute and process."""
    now = time.time()
    if not _due(user_id, now) and not force:
        return
    if not _write(user_id, now, current_app.config["ACTIVE_USER_WINDOW"]):
        _forget(user_id)  # try again on the next request rather than in a minute


@degrade(False)
def _write(user_id: str, now: float, window: int) -> bool:
    redis_store.handle.round_trip(
        ("ZADD", keys.ACTIVE_USERS, now, user_id),
        ("ZREMRANGEBYSCORE", keys.ACTIVE_USERS, "-inf", now - window),
        ("EXPIRE", keys.ACTIVE_USERS, window),
    )
    return True


@require("Online presence is unavailable.")
def count_active() -> int:
    """Distinct users active within ACTIVE_USER_WINDOW (503 while Redis is down)."""
    window = current_app.config["ACTIVE_USER_WINDOW"]
    return int(redis_store.client.zcount(keys.ACTIVE_USERS, time.time() - window, "+inf"))
