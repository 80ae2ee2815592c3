"""One worker process shared by many requests: what the gevent worker needs of the service.

The service's gunicorn worker (`adapters/gunicorn.py`) serves many connections per process
on gevent: a request waiting on a socket (Redis, its client) lets the others run. Two kinds
of wait do not go through Python's sockets and would stop every request of the process
instead; `make_cooperative`, called by the worker once gevent has patched the process, turns
both into yields:

- psycopg2 waits inside libpq: its wait callback (`wait_for_postgres`) hands each wait to
  gevent, and applies the connection's `connect_timeout` itself, which libpq leaves to the
  caller for a connection made this way;
- password hashing (scrypt, about 0.1 s of CPU) runs on a thread of its own
  (`off_the_loop`): it releases the GIL, so the other requests go on meanwhile, and none of
  their Redis reads outwaits its socket timeout behind it. One such thread per worker, so
  hashes run one at a time per worker, as under the sync worker: each takes a CPU and
  32 MiB (scrypt's N=32768, r=8), and twenty at once on an instance of 512 MB would not fit.

Outside a gevent worker (the CLI, tests in process, the sync and gthread workers) nothing
changes: psycopg2 blocks as usual and `off_the_loop` calls the function directly.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg2
import psycopg2.extensions as pg
from gevent.socket import wait_read, wait_write
from gevent.threadpool import ThreadPool

T = TypeVar("T")

_off_the_loop: ThreadPool | None = None  # set in a cooperative process
# What a connect raises when its connect_timeout runs out: made once, as gevent's own default
# timeout exception is, rather than for every wait of every statement.
_CONNECT_TIMED_OUT = psycopg2.OperationalError("timeout expired")


def make_cooperative() -> None:
    """From now on PostgreSQL waits and password hashing yield (call after gevent's patch,
    in the worker process)."""
    global _off_the_loop
    pg.set_wait_callback(wait_for_postgres)
    _off_the_loop = ThreadPool(1)


def wait_for_postgres(conn: Any, timeout: float | None = None) -> None:
    """psycopg2's wait callback: poll the connection, and wait in gevent until it is done."""
    deadline = _connect_deadline(conn)
    while (state := conn.poll()) != pg.POLL_OK:
        wait = wait_read if state == pg.POLL_READ else wait_write
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        wait(conn.fileno(), timeout=left, timeout_exc=_CONNECT_TIMED_OUT)


def _connect_deadline(conn: Any) -> float | None:
    """While connecting: when its `connect_timeout` runs out (statements have the server's
    statement_timeout instead)."""
    if conn.status != pg.STATUS_SETUP:
        return None
    limit = pg.parse_dsn(conn.dsn).get("connect_timeout")
    return time.monotonic() + float(limit) if limit else None


def off_the_loop(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`func(*args, **kwargs)`, on the process's one thread for it when the process is
    cooperative (callers wait their turn in gevent), else here."""
    if _off_the_loop is None:
        return func(*args, **kwargs)
    return _off_the_loop.apply(func, args, kwargs)
