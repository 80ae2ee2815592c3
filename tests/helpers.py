"""Helpers shared by the test files; fixtures live in conftest.py and tests/plugins/."""
from __future__ import annotations

import socket
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

API = "/api/v1"
UNLIMITED = "100000 per minute"  # a rate limit out of the way of a test's requests
NO_RATE_LIMITS = {"AUTH_RATE_LIMIT": UNLIMITED, "LOGIN_FAILURE_LIMIT": UNLIMITED,
                  "PROJECTS_RATE_LIMIT": UNLIMITED}
SMALL_LRU = ("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru")  # evicts soon


def with_database(url: str, name: str) -> str:
    """The same PostgreSQL server URL, another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def count_rows(conn: Any, table: str) -> int:
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        return cur.fetchone()[0]


def service_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a production-configured instance against the test servers."""
    return {
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SESSION_SECRET": "process-session-secret-" + "s" * 32,
        "JWT_SECRET": "process-jwt-secret-" + "j" * 32,
        "LOG_LEVEL": "WARNING",
        # The shared test Redis sets no maxmemory and holds other tenants' data: the
        # response cache's memory share must not depend on them (tests of that guard run
        # their own Redis with a maxmemory).
        "REDIS_MEMORY_LIMIT": str(1 << 40),
        **extra,
    }


def raw_request(port: int, request: bytes) -> bytes:
    """Send bytes as they are to 127.0.0.1:port and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def run_threads(threads: list[threading.Thread], timeout: float) -> None:
    """Start every thread, then join each (bounded by `timeout`)."""
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)

