"""psycopg2 2.9: dropping the idle connections of a `ThreadedConnectionPool` at once.

After a lost connection the pool's idle connections point at the same dead server; the
pool has no public way to close only the idle ones (`closeall` also breaks the ones in use).
"""
from __future__ import annotations

import psycopg2.pool

from marketplace.adapters import gone

PRIVATE = ("AbstractConnectionPool._lock", "AbstractConnectionPool._pool")


def discard_idle(pool: psycopg2.pool.ThreadedConnectionPool) -> None:
    """Close and forget every idle connection of `pool` (the ones in use are untouched)."""
    with pool._lock:  # the pool's own lock around its idle list
        for idle in pool._pool:
            idle.close()
        pool._pool.clear()


def check(pool: psycopg2.pool.ThreadedConnectionPool) -> None:
    """Fail with the attribute's name if an upgrade removed what this adapter reads."""
    needs = "a new way to drop idle connections"
    if not hasattr(getattr(pool, "_lock", None), "acquire"):
        raise gone("psycopg2.pool.AbstractConnectionPool._lock", "psycopg2", needs)
    if not isinstance(getattr(pool, "_pool", None), list):
        raise gone("psycopg2.pool.AbstractConnectionPool._pool (the idle list)", "psycopg2",
                   needs)
