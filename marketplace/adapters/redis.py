"""redis-py 7.4: a lean checkout and check-in on `BlockingConnectionPool`.

The pool's own `get_connection` also polls the socket (`can_read`) and records
observability figures on every call, and `release` checks maintenance notifications:
about forty Python calls per Redis round trip that this service does not use (it reads every
reply it asks for, and has no observability provider). Checking a connection out of the
pool's LIFO queue and back in is what remains; fork safety is kept (`_checkpid`).
"""
from __future__ import annotations

import os
from queue import Empty
from typing import Any

from redis.connection import BlockingConnectionPool, Connection
from redis.exceptions import ConnectionError as RedisConnectionError

from marketplace.adapters import gone

PRIVATE = ("BlockingConnectionPool.pool", "ConnectionPool.pid", "ConnectionPool._checkpid")


def checkout(pool: BlockingConnectionPool) -> Connection:
    """A connected connection, waiting up to the pool's timeout for a free one."""
    if pool.pid != os.getpid():
        pool._checkpid()  # forked: the child starts with an empty pool of its own
    try:
        connection = pool.pool.get(True, pool.timeout)
    except Empty:
        raise RedisConnectionError("No connection available.") from None
    if connection is None:
        connection = pool.make_connection()
    try:
        connection.connect()  # nothing to do when connected
    except BaseException:
        checkin(pool, connection)
        raise
    return connection


def checkin(pool: BlockingConnectionPool, connection: Any) -> None:
    """Back into the queue (a connection from before a fork is dropped instead)."""
    if pool.pid != os.getpid():
        return
    pool.pool.put_nowait(connection)


def check(pool: BlockingConnectionPool) -> None:
    """Fail with the attribute's name if an upgrade removed what this adapter uses."""
    queue = getattr(pool, "pool", None)
    if not (hasattr(queue, "get") and hasattr(queue, "put_nowait")):
        raise gone("redis.BlockingConnectionPool.pool (its queue of connections)", "redis",
                   "a new lean checkout")
    if not isinstance(getattr(pool, "pid", None), int):
        raise gone("redis.ConnectionPool.pid", "redis", "a new fork check")
    if not callable(getattr(pool, "_checkpid", None)):
        raise gone("redis.ConnectionPool._checkpid", "redis", "a new fork reset")
