"""Dependency probes with a hard deadline, so a hung server cannot hang a health check.

A failed probe raises ProbeFailed with a short reason for the log; it may name hosts,
ports and databases, so the routes never put it in a response.
"""
from __future__ import annotations

import select
import time

import psycopg2
import psycopg2.extensions

from marketplace.redis import REDIS_ERRORS, RedisHandle


class ProbeFailed(Exception):
    """The dependency did not answer in time or answered with an error (the reason is for
    the log only)."""


def probe_redis(handle: RedisHandle) -> float:
    """PING through the shared pool (its timeouts and breaker bound the wait), in ms."""
    try:
        return handle.ping()
    except REDIS_ERRORS as exc:  # not a policy: the probe reports the failure and its reason
        raise ProbeFailed(_short(exc)) from exc


def probe_postgres(dsn: str, deadline_s: float = 1.0) -> float:
    """`SELECT 1` on a fresh asynchronous connection, abandoned after `deadline_s`, in ms.

    libpq's own connect_timeout cannot go below 2 s and a frozen server ignores
    statement_timeout, so the deadline is enforced here with select().
    """
    start = time.perf_counter()
    end = start + deadline_s
    try:
        conn = psycopg2.connect(dsn, async_=1, application_name="marketplace-health")
    except psycopg2.Error as exc:
        raise ProbeFailed(_short(exc)) from exc
    try:
        _wait(conn, end)
        cur = conn.cursor()
        cur.execute("SELECT 1")
        _wait(conn, end)
        cur.fetchone()
    except psycopg2.Error as exc:
        raise ProbeFailed(_short(exc)) from exc
    finally:
        conn.close()
    return (time.perf_counter() - start) * 1000


def _wait(conn: psycopg2.extensions.connection, end: float) -> None:
    while True:
        state = conn.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        remaining = end - time.perf_counter()
        if remaining <= 0:
            raise ProbeFailed("timed out")
        if state == psycopg2.extensions.POLL_READ:
            ready = select.select([conn.fileno()], [], [], remaining)[0]
        else:
            ready = select.select([], [conn.fileno()], [], remaining)[1]
        if not ready:
            raise ProbeFailed("timed out")


def _short(exc: BaseException) -> str:
    """A short reason: the first line, never a server dump."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:120]
