"""Online presence: one sorted set scored by last activity, so counting never scans keys."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict

from flask import current_app

from marketplace.extensions import redis_store
from marketplace.redis import REDIS_ERRORS

ACTIVE_USERS_KEY = "active:users"
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
    window = current_app.config["ACTIVE_USER_WINDOW"]
    try:
        pipe = redis_store.client.pipeline(transaction=False)
        pipe.zadd(ACTIVE_USERS_KEY, {user_id: now})
        pipe.zremrangebyscore(ACTIVE_USERS_KEY, "-inf", now - window)
        pipe.expire(ACTIVE_USERS_KEY, window)
        pipe.execute()
    except REDIS_ERRORS:
        _forget(user_id)  # try again on the next request rather than in a minute


def count_active() -> int:
    """Distinct users active within ACTIVE_USER_WINDOW; raises REDIS_ERRORS when Redis is down."""
    window = current_app.config["ACTIVE_USER_WINDOW"]
    return int(redis_store.client.zcount(ACTIVE_USERS_KEY, time.time() - window, "+inf"))
