"""The gevent worker (`marketplace/adapters/gunicorn.py`, `marketplace/cooperative.py`): one
process serves many requests, and none of them stops the others while it waits for
PostgreSQL, connects to it, or hashes a password."""
from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from scripts.processes import ROOT, GunicornService, http
from tests.helpers import UNLIMITED, service_env

pytestmark = pytest.mark.slow

PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def service(database_url: str, redis_url: str, tmp_path_factory: Any) -> Any:
    # keepalive 5 s instead of 75, so that a half-sent request is dropped within the test.
    env = service_env(database_url, redis_url, AUTH_RATE_LIMIT=UNLIMITED,
                      PROJECTS_RATE_LIMIT=UNLIMITED, LOGIN_FAILURE_LIMIT=UNLIMITED,
                      GUNICORN_CMD_ARGS="--keep-alive 5")
    with GunicornService(env, tmp_path_factory.mktemp("gevent-worker"), workers=1) as service:
        yield service


def waiting_for_a_lock(db: Any) -> int:
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND application_name = 'marketplace'")
        return cur.fetchone()[0]


def test_a_request_waiting_for_postgres_does_not_stop_the_worker(
        service: Any, db: Any, redis: Any, database_url: str) -> None:
    import psycopg2

    locker = psycopg2.connect(database_url)  # a transaction of its own, held open
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE projects IN ACCESS EXCLUSIVE MODE")
        with ThreadPoolExecutor(max_workers=1) as pool:
            # A list not cached (Redis flushed): a miss, whose query waits for the lock.
            blocked = pool.submit(http, "GET", service.url + "/api/v1/projects?per_page=13")
            deadline = time.monotonic() + 10
            while not waiting_for_a_lock(db):
                assert time.monotonic() < deadline and not blocked.done(), (
                    blocked.done() and blocked.result().body)
                time.sleep(0.05)
            # The only worker is waiting for PostgreSQL on that request, and answers others.
            for path in ("/api/v1/health", "/api/v1/health/redis"):
                assert http("GET", service.url + path, timeout=3).status == 200, path
            assert not blocked.done()
            locker.rollback()
            assert blocked.result(timeout=10).status == 200
    finally:
        locker.close()


def test_password_hashing_does_not_stop_the_worker(service: Any, db: Any) -> None:
    """Each login hashes for about 0.1 s of CPU; on the event loop, a burst of them would
    hold every other request of the worker behind the sum."""
    emails = [f"hasher-{i}@example.com" for i in range(8)]
    for email in emails:
        reply = http("POST", service.url + "/api/v1/auth/register",
                     body={"email": email, "password": PASSWORD, "name": "H", "role": "client"})
        assert reply.status == 201, reply.body
    slowest, stop = 0.0, threading.Event()

    def health_meanwhile() -> None:
        nonlocal slowest
        while not stop.is_set():
            started = time.monotonic()
            assert http("GET", service.url + "/api/v1/health", timeout=5).status == 200
            slowest = max(slowest, time.monotonic() - started)

    watcher = threading.Thread(target=health_meanwhile)
    with ThreadPoolExecutor(max_workers=len(emails)) as pool:
        watcher.start()
        try:
            for _ in range(3):
                logins = list(pool.map(lambda email: http(
                    "POST", service.url + "/api/v1/auth/login",
                    body={"email": email, "password": PASSWORD}).status, emails))
                assert logins == [200] * len(emails), logins
        finally:
            stop.set()
            watcher.join()
    # Eight hashes in a row on the loop hold a request for up to 0.8 s; off it, milliseconds.
    assert slowest < 0.25, slowest


def test_half_sent_requests_do_not_hold_the_worker(service: Any) -> None:
    """Each half request holds a connection of the only worker, which serves the rest
    meanwhile, and is dropped when gunicorn's keepalive (5 s here) runs out."""
    holders = [socket.create_connection(("127.0.0.1", service.port)) for _ in range(20)]
    try:
        for holder in holders:
            holder.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")  # no blank line
        started = time.monotonic()
        assert http("GET", service.url + "/api/v1/health", timeout=3).status == 200
        assert time.monotonic() - started < 1.0
        holders[0].settimeout(15)
        assert holders[0].recv(1) == b""  # closed by the server, with nothing sent
        assert 4.0 < time.monotonic() - started < 10.0
    finally:
        for holder in holders:
            holder.close()


# A process as the gevent worker makes it (patched, then cooperative), with a greenlet that
# counts ten-millisecond ticks: how far the loop got while the script waited.
COOPERATIVE_PROCESS = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()
    import gevent
    from marketplace import cooperative
    cooperative.make_cooperative()
    ticks = 0
    def tick():
        global ticks
        while True:
            ticks += 1
            gevent.sleep(0.01)
    gevent.spawn(tick)
""")


def run_cooperatively(script: str) -> str:
    """`script` run after COOPERATIVE_PROCESS in a process of its own; what it printed."""
    result = subprocess.run([sys.executable, "-c", COOPERATIVE_PROCESS + textwrap.dedent(script)],
                            cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_connect_waits_cooperatively_and_times_out() -> None:
    """libpq applies no connect_timeout to a connection made through a wait callback: the
    callback does, and other greenlets run meanwhile."""
    out = run_cooperatively("""
        import socket, time
        import psycopg2
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts, and never says a word
        started = time.monotonic()
        try:
            psycopg2.connect(host="127.0.0.1", port=silent.getsockname()[1], dbname="x",
                             connect_timeout=1)
        except psycopg2.OperationalError as exc:
            print(round(time.monotonic() - started, 2), ticks, str(exc).strip())
    """)
    waited, ticks, reason = out.split(maxsplit=2)
    assert 0.9 <= float(waited) < 2.0, out
    assert int(ticks) >= 30, out  # about 100 if nothing blocked the loop
    assert reason == "timeout expired", out


def test_password_hashes_run_one_at_a_time_off_the_loop() -> None:
    """Each scrypt hash takes 32 MiB: a worker runs one at a time, on a thread of its own,
    while its loop goes on."""
    out = run_cooperatively("""
        import threading, time
        running, most, lock = 0, 0, threading.Lock()
        def scrypt_like():
            global running, most
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.05)  # on the pool's thread: it holds that thread, not the loop
            with lock:
                running -= 1
            return threading.get_native_id()
        jobs = [gevent.spawn(cooperative.off_the_loop, scrypt_like) for _ in range(6)]
        gevent.joinall(jobs)
        others = {job.value for job in jobs} - {threading.get_native_id()}
        print(most, len(others), ticks)
    """)
    most, threads, ticks = map(int, out.split())
    assert (most, threads) == (1, 1), out
    assert ticks >= 15, out  # six 50 ms jobs in a row: about 30 ticks meanwhile
