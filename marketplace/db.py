"""The PostgreSQL pool of a worker process, visible transactions, and the 503 when it is down."""
from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extras
import psycopg2.pool
from flask import current_app

from marketplace.adapters import psycopg2 as pool_adapter
from marketplace.errors import ServiceUnavailable

log = logging.getLogger(__name__)

psycopg2.extras.register_uuid()

# Errors that mean "the database cannot be reached", as opposed to a bug in our SQL.
UNAVAILABLE_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)


def _has_input(conn: Any) -> bool:
    """True if an idle connection's socket is readable, hung up or in error (no wait)."""
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class CountingCursor(psycopg2.extras.RealDictCursor):
    """Rows as dicts; counts statements so tests and benchmarks can see queries per request."""

    counter: Pool

    def execute(self, query: Any, vars: Any = None) -> Any:
        self.counter.queries += 1
        return super().execute(query, vars)


class Database:
    """The extension: `db.transaction()` uses the current app's pool."""

    def init_app(self, app: Any) -> Pool:
        pool = Pool(app.config)
        app.extensions["database"] = pool
        return pool

    @property
    def pool(self) -> Pool:
        return current_app.extensions["database"]

    def transaction(self, *, readonly: bool = False) -> Any:
        return self.pool.transaction(readonly=readonly)

    def connection(self) -> Any:
        return self.pool.connection()


class Pool:
    """A bounded, thread-safe psycopg2 pool; callers wait briefly for a free connection."""

    def __init__(self, cfg: Any) -> None:
        """Remember the settings; connections are opened on first use (after fork)."""
        self._pool: psycopg2.pool.ThreadedConnectionPool | None = None
        self._slots: threading.BoundedSemaphore | None = None
        self._pool_lock = threading.Lock()
        self._pid = os.getpid()
        self.queries = 0  # statements sent by this process (approximate under threads)
        self._lent = 0  # connections borrowed through `connection()` and not yet returned
        self._lent_lock = threading.Lock()
        self._cursor_class = type("Cursor", (CountingCursor,), {"counter": self})
        self.dsn: str = cfg["DATABASE_URL"]
        self._size = cfg["DB_POOL_MAX"]
        self._wait = cfg["DB_POOL_TIMEOUT"]
        self._options = {
            "connect_timeout": cfg["DB_CONNECT_TIMEOUT"],
            "options": f"-c statement_timeout={cfg['DB_STATEMENT_TIMEOUT_MS']}",
            "application_name": "marketplace",
            "keepalives": 1,
            "keepalives_idle": 30,
        }

    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        if self._pid != os.getpid():  # created before a fork: the child starts its own
            self._pool, self._pid = None, os.getpid()
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._slots = threading.BoundedSemaphore(self._size)
                    pool = psycopg2.pool.ThreadedConnectionPool(
                        0, self._size, self.dsn, **self._options
                    )
                    # minconn 0 opens nothing up front; raising it afterwards makes the
                    # pool keep returned connections instead of closing every one of them.
                    pool.minconn = self._size
                    self._pool = pool
        return self._pool

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """Borrow a connection; a broken one is discarded instead of returned."""
        pool = self._get_pool()
        if not self._slots.acquire(timeout=self._wait):
            raise ServiceUnavailable("Database is busy, please retry.")
        self._count_lent(1)
        conn = None
        try:
            try:
                conn = self._checkout(pool)
            except UNAVAILABLE_ERRORS as exc:
                log.warning("database unreachable: %s", str(exc).strip()[:200])
                raise ServiceUnavailable("Database unavailable.") from exc
            broken = False
            try:
                yield conn
            except UNAVAILABLE_ERRORS as exc:
                broken = True
                log.warning("database connection lost: %s", str(exc).strip()[:200])
                pool_adapter.discard_idle(pool)  # they point at the same dead server
                raise ServiceUnavailable("Database unavailable.") from exc
            except BaseException:
                broken = bool(conn.closed)
                raise
            finally:
                if conn is not None:
                    pool.putconn(conn, close=broken or bool(conn.closed))
        finally:
            self._count_lent(-1)
            self._slots.release()

    def _count_lent(self, change: int) -> None:
        with self._lent_lock:
            self._lent += change

    def in_use(self) -> int:
        """Connections of this process's pool lent out right now (or being opened)."""
        return self._lent

    def _checkout(self, pool: psycopg2.pool.ThreadedConnectionPool) -> Any:
        """A pooled connection that is still alive, as far as can be told without a round
        trip: an idle connection has nothing to read unless the server closed it (a restart
        sends each backend's client a termination notice, a killed server an EOF). Those
        are dropped unused, so a PostgreSQL restart costs no request a 503."""
        for _ in range(self._size):
            conn = pool.getconn()
            if not conn.closed and not _has_input(conn):
                return conn
            pool.putconn(conn, close=True)
        return pool.getconn()  # every idle one was dead: a new connection

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Any]:
        """`with db.transaction() as cur:` commits on success and rolls back on any error."""
        with self.connection() as conn:
            conn.readonly = readonly
            try:
                with conn.cursor(cursor_factory=self._cursor_class) as cur:
                    yield cur
                conn.commit()
            except BaseException:
                if not conn.closed:
                    try:
                        conn.rollback()
                    except UNAVAILABLE_ERRORS:
                        pass
                raise

    def ping(self) -> float:
        """Round-trip time of `SELECT 1` in ms; raises ServiceUnavailable when down."""
        start = time.perf_counter()
        with self.transaction(readonly=True) as cur:
            cur.execute("SELECT 1")
        return (time.perf_counter() - start) * 1000

    def close(self) -> None:
        if self._pool is not None:
            self._pool.closeall()
            self._pool = None
