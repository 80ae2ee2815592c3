"""Flask-Limiter's Redis storage, reading the request's cache entry in the same round trip.

A cached read on a limited blueprint needs two things from the shared Redis: the
rate-limit counter (the `limits` library's INCR + EXPIRE script) and the cache entry with
its namespace marker (an MGET). Flask-Limiter counts before the view runs, so this
storage asks a *planner* registered for the request's endpoint which keys the view is
about to read, sends their MGET in the same pipeline as the counter's EVALSHA, and leaves
the values on `flask.g` for `take_reads`. One round trip instead of two.

In any doubt it behaves exactly like `RedisStorage`: no request context, no planner, a
planner that declines (an invalid query string), or a NOSCRIPT reply (Redis restarted and
lost its script cache) mean the plain path, and the view reads Redis itself.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from flask import g, has_request_context, request
from limits.storage import RedisStorage
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

SCHEME_PREFIX = "marketplace+"  # RATELIMIT_STORAGE_URI = "marketplace+redis://..."
Planner = Callable[[], list[str] | None]
_planners: dict[str, Planner] = {}


def plan_reads(endpoint: str, planner: Planner) -> None:
    """`planner()` -> the full Redis keys `endpoint`'s view will read, or None to decline."""
    _planners[endpoint] = planner


def take_reads(keys: list[str]) -> list[bytes | None] | None:
    """The values read along with the counter for exactly these keys, once; else None."""
    read = g.pop("_limit_reads", None)
    return read[1] if read is not None and read[0] == keys else None


def _planned_keys() -> list[str] | None:
    if not has_request_context() or request.method not in ("GET", "HEAD"):
        return None
    if "_limit_reads" in g:  # a second limit on the same request: read once
        return None
    planner = _planners.get(request.endpoint or "")
    return planner() if planner is not None else None


class RedisStorageWithReads(RedisStorage):
    STORAGE_SCHEME = [SCHEME_PREFIX + "redis", SCHEME_PREFIX + "rediss"]

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        keys = _planned_keys()
        if not keys:
            return super().incr(key, expiry, amount)
        pipe = self.get_connection().pipeline(transaction=False)
        pipe.evalsha(self.lua_incr_expire.sha, 1, self.prefixed_key(key), expiry, amount)
        pipe.mget(keys)
        count, values = pipe.execute(raise_on_error=False)
        if isinstance(values, list):
            g._limit_reads = (keys, values)
        if isinstance(count, NoScriptError):
            return super().incr(key, expiry, amount)  # loads the script again
        if isinstance(count, Exception):
            raise count
        return int(count)


class OutageTracebacks(logging.Filter):
    """Drops Flask-Limiter's traceback for a request that met Redis going away mid-count.

    With RATELIMIT_SWALLOW_ERRORS the first such request switches the limiter to its
    in-memory fallback (one warning line); requests already counting at that moment log
    "Swallowing error" with a full traceback each. The outage itself is logged once by the
    Redis breaker (marketplace/redis.py), so those are dropped; any other error keeps its
    traceback.
    """

    TRANSPORT = (RedisConnectionError, RedisTimeoutError, OSError)

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None and not isinstance(exc, self.TRANSPORT):
            exc = exc.__cause__  # limits wraps storage errors when asked to
        return exc is None


outage_tracebacks = OutageTracebacks()
