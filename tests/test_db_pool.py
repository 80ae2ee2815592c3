"""The PostgreSQL pool of a process (`marketplace/db.py`): connections opened outside its
locks, and none shared with a forked child."""
from __future__ import annotations

import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from marketplace.errors import ServiceUnavailable


def test_callers_connecting_to_a_silent_server_do_not_queue_behind_each_other(
        make_app: Any) -> None:
    """A server that accepts and never answers costs each caller its own connect timeout,
    at the same time: the pool does not hold a lock while one caller connects."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        host, port = silent.getsockname()
        app = make_app(DATABASE_URL=f"postgresql://root@{host}:{port}/x", DB_CONNECT_TIMEOUT=1,
                       DB_POOL_TIMEOUT=5.0)
        pool = app.extensions["database"]

        def connect(_: int) -> tuple[str, float]:
            started = time.monotonic()
            try:
                with pool.connection():
                    return "connected", time.monotonic() - started
            except ServiceUnavailable as exc:
                return exc.message, time.monotonic() - started

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as callers:
            outcomes = list(callers.map(connect, range(4)))
        total = time.monotonic() - started
    assert {message for message, _ in outcomes} == {"Database unavailable."}, outcomes
    one = min(waited for _, waited in outcomes)
    # One after another, the four would take four connect timeouts.
    assert total < 2 * one, (total, outcomes)
    assert pool.in_use() == 0


def test_a_forked_child_opens_its_own_connections(make_app: Any) -> None:
    app = make_app()
    pool = app.extensions["database"]

    def backend() -> int:
        with pool.transaction(readonly=True) as cur:
            cur.execute("SELECT pg_backend_pid() AS pid")
            return cur.fetchone()["pid"]

    parent_backend = backend()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a connection of its own, not the parent's socket
        try:
            os.write(write_end, str(backend()).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    child_backend = int(os.read(read_end, 64).decode() or 0)
    os.waitpid(pid, 0)
    assert child_backend and child_backend != parent_backend
    assert backend() == parent_backend  # the parent's connection is still its own, and works


def test_a_write_waits_its_turn_for_at_most_the_pool_timeout(make_app: Any) -> None:
    """A process writes one at a time (`writes.write`); a write that cannot get its turn
    within DB_POOL_TIMEOUT is the pool's 503, and opens no transaction."""
    from marketplace import writes

    app = make_app(DB_POOL_TIMEOUT=0.3)
    pool = app.extensions["database"]

    def write_now() -> tuple[str, float]:
        started = time.monotonic()
        with app.app_context():
            try:
                with writes.write():
                    return "written", time.monotonic() - started
            except ServiceUnavailable as exc:
                return exc.message, time.monotonic() - started

    with pool.one_writer(), ThreadPoolExecutor(max_workers=1) as other:
        message, waited = other.submit(write_now).result(timeout=5)
        assert pool.in_use() == 0
    assert message == "Database is busy, please retry." and 0.25 < waited < 1.0, waited
    assert write_now()[0] == "written"  # its turn, once the first write is done
