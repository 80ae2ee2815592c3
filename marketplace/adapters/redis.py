"""redis-py 7.4: a lean checkout and check-in on `BlockingConnectionPool`.

The pool's own `get_connection` also polls the socket (`can_read`) and records
observability figures on every call, and `release` checks maintenance notifications:
about forty Python calls per Redis round trip that this service does not use (it reads every
reply it asks for, and has no observability provider). Checking a connection out of the
pool's LIFO queue and back in is what remains; fork safety is kept (`_checkpid`).

The queue is the standard library's `queue.LifoQueue`; its own `get` and `put_nowait` take
its lock through two conditions and count unfinished tasks, about thirty calls per round
trip. Here a free connection is taken from the top of the queue under the queue's lock, and
put back under it with a wake-up for a caller waiting in `get`; only when the queue is empty
(every connection lent out) does a caller wait in `get`, with the pool's timeout. A queue of
another kind (gevent's, once a gevent worker has patched `queue`) has no such lock and is
used through its own `get` and `put_nowait`. A connection whose socket is open is not asked
to connect again (redis-py's `connect` would go through its retry wrapper only to find the
socket there).
"""
from __future__ import annotations

import os
from queue import Empty
from typing import Any

from redis.connection import BlockingConnectionPool, Connection
from redis.exceptions import ConnectionError as RedisConnectionError

from marketplace.adapters import gone

_NONE_FREE = object()  # the queue was empty: wait in `get`

PRIVATE = ("BlockingConnectionPool.pool", "ConnectionPool.pid", "ConnectionPool._checkpid",
           "Connection._sock")


def checkout(pool: BlockingConnectionPool) -> Connection:
    """A connected connection, waiting up to the pool's timeout for a free one."""
    if pool.pid != os.getpid():
        pool._checkpid()  # forked: the child starts with an empty pool of its own
    queue = pool.pool
    connection = _NONE_FREE
    mutex = getattr(queue, "mutex", None)  # None: not the standard library's queue
    if mutex is not None:
        with mutex:
            free = queue.queue  # the LIFO's list: connections, or None for one not made yet
            if free:
                connection = free.pop()
    if connection is _NONE_FREE:
        try:
            connection = queue.get(True, pool.timeout)
        except Empty:
            raise RedisConnectionError("No connection available.") from None
    if connection is None:
        connection = pool.make_connection()
    if connection._sock is None:
        try:
            connection.connect()
        except BaseException:
            checkin(pool, connection)
            raise
    return connection


def checkin(pool: BlockingConnectionPool, connection: Any) -> None:
    """Back into the queue (a connection from before a fork is dropped instead)."""
    if pool.pid != os.getpid():
        return
    queue = pool.pool
    mutex = getattr(queue, "mutex", None)
    if mutex is None:
        queue.put_nowait(connection)
        return
    with mutex:
        queue.queue.append(connection)
        queue.not_empty.notify()  # a caller may be waiting in `get` for this one


def check(pool: BlockingConnectionPool) -> None:
    """Fail with the attribute's name if an upgrade removed what this adapter uses."""
    queue = getattr(pool, "pool", None)
    if not (hasattr(queue, "get") and hasattr(queue, "mutex") and hasattr(queue, "not_empty")
            and isinstance(getattr(queue, "queue", None), list)):
        raise gone("redis.BlockingConnectionPool.pool (its queue of connections)", "redis",
                   "a new lean checkout")
    if not isinstance(getattr(pool, "pid", None), int):
        raise gone("redis.ConnectionPool.pid", "redis", "a new fork check")
    if not callable(getattr(pool, "_checkpid", None)):
        raise gone("redis.ConnectionPool._checkpid", "redis", "a new fork reset")
    unconnected = pool.connection_class(**pool.connection_kwargs)  # opens no socket
    if "_sock" not in vars(unconnected):
        raise gone("redis.Connection._sock", "redis", "a new is-connected check")
