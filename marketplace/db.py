"""The PostgreSQL pool of a worker process, visible transactions, and the 503 when it is down.

A statement that ran past DB_STATEMENT_TIMEOUT_MS (or was cancelled otherwise) is that
request's failure only: psycopg2 raises it as an OperationalError, like a lost connection,
but the connection is healthy. It is rolled back and returned to the pool, the other idle
connections are kept, and the request gets a 503. Only a lost connection drops them all.
"""
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
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
from flask import current_app

from marketplace.errors import ServiceUnavailable

log = logging.getLogger(__name__)

psycopg2.extras.register_uuid()

# Errors that mean "the database cannot be reached", as opposed to a bug in our SQL.
UNAVAILABLE_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError)
# An OperationalError on a live connection: the server cancelled the statement.
CANCELLED_ERRORS = (psycopg2.errors.QueryCanceled,)


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
    """A bounded, thread- and greenlet-safe pool of psycopg2 connections; callers wait
    briefly for a free slot. Connections are opened outside every lock, so callers never
    queue behind another one's connect (a database that does not answer costs each caller
    its own connect timeout, not the sum of everyone's)."""

    def __init__(self, cfg: Any) -> None:
        """Remember the settings; connections are opened on first use (after fork)."""
        self._idle: list[Any] = []  # connections ready for reuse, the last returned on top
        self._lock = threading.Lock()  # around `_idle` and `_lent`, never around a connect
        self._pid = os.getpid()
        self.queries = 0  # statements sent by this process (approximate under threads)
        self._lent = 0  # connections borrowed through `connection()` and not yet returned
        self._writer = threading.Lock()  # `one_writer`: a process's writes, one at a time
        self._cursor_class = type("Cursor", (CountingCursor,), {"counter": self})
        self.dsn: str = cfg["DATABASE_URL"]
        self._size = cfg["DB_POOL_MAX"]
        self._slots = threading.BoundedSemaphore(self._size)
        self._wait = cfg["DB_POOL_TIMEOUT"]
        self._options = {
            "connect_timeout": cfg["DB_CONNECT_TIMEOUT"],
            "options": f"-c statement_timeout={cfg['DB_STATEMENT_TIMEOUT_MS']}",
            "application_name": "marketplace",
            "keepalives": 1,
            "keepalives_idle": 30,
        }

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """Borrow a connection; a broken one is discarded instead of returned."""
        if self._pid != os.getpid():  # built before a fork: the child starts its own
            self._after_fork()
        if not self._slots.acquire(timeout=self._wait):
            raise ServiceUnavailable("Database is busy, please retry.")
        self._count_lent(1)
        conn = None
        try:
            try:
                conn = self._checkout()
            except UNAVAILABLE_ERRORS as exc:
                log.warning("database unreachable: %s", str(exc).strip()[:200])
                raise ServiceUnavailable("Database unavailable.") from exc
            broken = False
            try:
                yield conn
            except CANCELLED_ERRORS as exc:
                if conn.closed:  # cancelled by a server going away: the connection is lost
                    broken = True
                    self.discard_idle()
                log.warning("database statement cancelled: %s", str(exc).strip()[:200])
                raise ServiceUnavailable("Database took too long, please retry.") from exc
            except UNAVAILABLE_ERRORS as exc:
                broken = True
                log.warning("database connection lost: %s", str(exc).strip()[:200])
                self.discard_idle()  # they point at the same dead server
                raise ServiceUnavailable("Database unavailable.") from exc
            except BaseException:
                broken = bool(conn.closed)
                raise
            finally:
                if conn is not None:
                    self._checkin(conn, broken=broken)
        finally:
            self._count_lent(-1)
            self._slots.release()

    def _after_fork(self) -> None:
        """The parent's connections are the parent's: forget them without closing them, and
        start with every slot free and no write in progress."""
        with self._lock:
            if self._pid != os.getpid():
                self._idle, self._lent, self._pid = [], 0, os.getpid()
                self._slots = threading.BoundedSemaphore(self._size)
                self._writer = threading.Lock()

    def _count_lent(self, change: int) -> None:
        with self._lock:
            self._lent += change

    def in_use(self) -> int:
        """Connections of this process's pool lent out right now (or being opened)."""
        return self._lent

    def _checkout(self) -> Any:
        """A pooled connection that is still alive, as far as can be told without a round
        trip: an idle connection has nothing to read unless the server closed it (a restart
        sends each backend's client a termination notice, a killed server an EOF). Those
        are dropped unused, so a PostgreSQL restart costs no request a 503."""
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return psycopg2.connect(self.dsn, **self._options)
            if not conn.closed and not _has_input(conn):
                return conn
            conn.close()

    def _checkin(self, conn: Any, *, broken: bool) -> None:
        """Back to the idle list, out of any transaction; closed if broken or unknown."""
        if not (broken or conn.closed):
            status = conn.info.transaction_status
            if status == psycopg2.extensions.TRANSACTION_STATUS_UNKNOWN:
                broken = True
            elif status != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                try:
                    conn.rollback()
                except UNAVAILABLE_ERRORS:
                    broken = True
        if broken or conn.closed or self._pid != os.getpid():
            conn.close()
            return
        with self._lock:
            self._idle.append(conn)

    def discard_idle(self) -> None:
        """Close every idle connection at once (the ones lent out are untouched): after a
        lost connection they point at the same dead server."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    @contextmanager
    def one_writer(self) -> Iterator[None]:
        """This process's turn to write (`writes.write`), waited for up to DB_POOL_TIMEOUT."""
        if not self._writer.acquire(timeout=self._wait):
            raise ServiceUnavailable("Database is busy, please retry.")
        try:
            yield
        finally:
            self._writer.release()

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
        self.discard_idle()
