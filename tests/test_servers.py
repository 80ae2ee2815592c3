"""Fast real tests of the private server helpers in scripts/processes."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import psycopg2
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from scripts.processes import PrivatePostgres, PrivateRedis, free_port


def _client(url: str, timeout: float = 2.0) -> redis.Redis:
    """Return a redis client that never retries, so failures surface immediately."""
    return redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_private_redis_set_get(tmp_path: Path) -> None:
    with PrivateRedis(tmp_path) as server:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert server.pid is not None
        client = _client(server.url)
        client.set("greeting", "hello")
        assert client.get("greeting") == b"hello"
        client.close()
    assert server.pid is None


def test_private_redis_freeze_thaw(tmp_path: Path) -> None:
    with PrivateRedis(tmp_path) as server:
        client = _client(server.url, timeout=0.2)
        assert client.ping()
        server.freeze()
        started = time.monotonic()
        with pytest.raises(redis.exceptions.TimeoutError):
            client.ping()
        assert time.monotonic() - started < 2.0
        server.thaw()
        assert _client(server.url).ping()
        client.close()


def test_private_redis_stop_kill_restart(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path)
    with server:
        port = server.port
        _client(server.url).set("k", "v")
        server.stop()
        with pytest.raises(redis.exceptions.ConnectionError):
            _client(server.url).ping()
        server.restart()
        assert server.port == port
        client = _client(server.url)
        assert client.ping()
        assert client.get("k") is None  # no persistence
        server.kill()
        with pytest.raises(redis.exceptions.ConnectionError):
            _client(server.url).ping()
        server.start()
        assert server.port == port
        assert _client(server.url).ping()
    assert server.pid is None


def test_private_postgres_lifecycle() -> None:
    with PrivatePostgres() as server:
        conn = psycopg2.connect(server.url, connect_timeout=5)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
            cur.execute("CREATE TABLE kept (id int)")
        conn.close()
        port = server.port

        server.stop()
        assert server.pid is None
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(server.url, connect_timeout=2)

        server.restart()
        assert server.port == port
        conn = psycopg2.connect(server.url, connect_timeout=5)
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM kept")
            assert cur.fetchone() == (0,)
        conn.close()
    assert server.pid is None


def test_private_postgres_freeze_thaw_kill() -> None:
    with PrivatePostgres() as server:
        conn = psycopg2.connect(server.url, connect_timeout=5)
        conn.autocommit = True
        server.freeze()
        started = time.monotonic()
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(server.url, connect_timeout=2)  # libpq minimum; never served
        assert time.monotonic() - started < 4.0
        server.thaw()
        with conn.cursor() as cur:  # the existing backend resumes too
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
        conn.close()

        server.kill()
        assert server.pid is None
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(server.url, connect_timeout=2)
        server.start()  # crash recovery
        conn = psycopg2.connect(server.url, connect_timeout=5)
        conn.close()
    assert server.pid is None
