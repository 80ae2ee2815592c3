"""Service counters (cache hits, rate-limit rejections, Redis errors), summed over workers.

Each process counts in memory and adds its deltas to one Redis hash every FLUSH_INTERVAL
seconds (a job of `marketplace/periodic.py`, run on the way out of a request): no Redis
round trip per request, and the totals cover every worker of every instance. Deltas that
could not be flushed (Redis down) are kept and flushed later.
"""
from __future__ import annotations

import threading
from collections import Counter

from flask import current_app

from marketplace import keys
from marketplace.redis import degrade

FLUSH_INTERVAL = 5.0
# cache_not_stored: responses served but not cached (over CACHE_MAX_ENTRY_BYTES, or
# Redis at the response cache's share of its memory; see response_cache).
NAMES = ("cache_hits", "cache_misses", "cache_not_stored", "rate_limited", "redis_errors")

_pending: Counter[str] = Counter()
_lock = threading.Lock()
_reported_errors = 0


def incr(name: str, amount: int = 1) -> None:
    """Count an event in this process; it reaches Redis with the next flush."""
    with _lock:
        _pending[name] += amount


def incr_all(names: tuple[str, ...]) -> None:
    """Count several events at once (one lock)."""
    with _lock:
        for name in names:
            _pending[name] += 1


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


def flush() -> None:
    """Add this process's deltas to the shared hash."""
    deltas = _take_pending()
    if deltas and not _send(deltas):
        with _lock:  # keep them for the next flush, beside what arrived meanwhile
            for name, amount in deltas.items():
                _pending[name] += amount


@degrade(False)
def _send(deltas: Counter[str]) -> bool:
    commands = [("HINCRBY", keys.COUNTERS, name, amount) for name, amount in deltas.items()]
    current_app.extensions["redis"].round_trip(
        *commands, ("EXPIRE", keys.COUNTERS, keys.COUNTERS_TTL))
    return True


@degrade(dict)
def _stored() -> dict[bytes, bytes]:
    return current_app.extensions["redis"].client.hgetall(keys.COUNTERS)


def totals() -> dict[str, int]:
    """Counters of all workers (flushed) plus this process's unflushed deltas."""
    flush()
    values = {name.decode(): int(v) for name, v in _stored().items()}
    with _lock:
        for name, amount in _pending.items():
            values[name] = values.get(name, 0) + amount
    return {name: values.get(name, 0) for name in NAMES}
