"""Service counters (cache hits, rate-limit rejections, Redis errors), summed over workers.

Each process counts in memory and adds its deltas to one Redis hash at most every
FLUSH_INTERVAL seconds, piggy-backed on a request that is ending anyway: no Redis round
trip per request, and the totals cover every worker of every instance. Deltas that could
not be flushed (Redis down) are kept and flushed later.
"""
from __future__ import annotations

import threading
import time
from collections import Counter

from flask import Flask, current_app

from marketplace.redis import REDIS_ERRORS

COUNTERS_KEY = "stats:counters"
COUNTERS_TTL = 7 * 86_400  # refreshed on every flush; the hash dies only if nobody counts
FLUSH_INTERVAL = 5.0
# cache_not_stored: responses served but not cached (over CACHE_MAX_ENTRY_BYTES, or
# Redis at the response cache's share of its memory; see response_cache).
NAMES = ("cache_hits", "cache_misses", "cache_not_stored", "rate_limited", "redis_errors")

_pending: Counter[str] = Counter()
_lock = threading.Lock()
_last_flush = time.monotonic()
_reported_errors = 0


def incr(name: str, amount: int = 1) -> None:
    """Count an event in this process; it reaches Redis with the next flush."""
    with _lock:
        _pending[name] += amount


def _take_pending() -> Counter[str]:
    global _reported_errors
    breaker = current_app.extensions["redis"].breaker
    with _lock:
        new_errors = breaker.errors - _reported_errors
        _reported_errors = breaker.errors
        if new_errors > 0:
            _pending["redis_errors"] += new_errors
        taken = _pending.copy()
        _pending.clear()
    return taken


def flush(force: bool = False) -> None:
    """Add this process's deltas to the shared hash (at most every FLUSH_INTERVAL s)."""
    global _last_flush
    now = time.monotonic()
    if not force and now - _last_flush < FLUSH_INTERVAL:
        return
    _last_flush = now
    deltas = _take_pending()
    if not deltas:
        return
    client = current_app.extensions["redis"].client
    try:
        pipe = client.pipeline(transaction=False)
        for name, amount in deltas.items():
            pipe.hincrby(COUNTERS_KEY, name, amount)
        pipe.expire(COUNTERS_KEY, COUNTERS_TTL)
        pipe.execute()
    except REDIS_ERRORS:
        with _lock:  # keep them for the next flush, beside what arrived meanwhile
            for name, amount in deltas.items():
                _pending[name] += amount


def totals() -> dict[str, int]:
    """Counters of all workers (flushed) plus this process's unflushed deltas."""
    flush(force=True)
    client = current_app.extensions["redis"].client
    try:
        stored = client.hgetall(COUNTERS_KEY)
    except REDIS_ERRORS:
        stored = {}
    values = {name.decode(): int(v) for name, v in stored.items()}
    with _lock:
        for name, amount in _pending.items():
            values[name] = values.get(name, 0) + amount
    return {name: values.get(name, 0) for name in NAMES}


def init_app(app: Flask) -> None:
    """Flush on the way out of requests, after the response is built."""

    @app.teardown_request
    def flush_counters(_exc: BaseException | None) -> None:
        flush()
