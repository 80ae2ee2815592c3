"""Fixture chain app → client → db → redis, on the real PostgreSQL and Redis of the run.

TEST_DATABASE_URL names a database this suite owns: it is dropped and created afresh at
the start of the run. TEST_REDIS_URL names a Redis db number this suite owns: it is
flushed before every test (never any other db).
"""
from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg2
import pytest
import redis as redis_lib
from flask import Flask

from marketplace import close_app, create_app
from marketplace.migrate import upgrade
from scripts.processes import PrivatePostgres, PrivateRedis
from tests.helpers import with_database

pytest_plugins = ["tests.plugins.auth", "tests.plugins.projects"]

TABLES = ("proposals", "projects", "revoked_tokens", "users")


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise pytest.UsageError(f"{name} is not set: run the suite with `make test`")
    return value


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database for this run, with every migration applied."""
    url = _require("TEST_DATABASE_URL")
    name = urlsplit(url).path.lstrip("/")
    assert name and name not in ("postgres", "template0", "template1"), name
    admin = psycopg2.connect(with_database(url, "postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    upgrade(url)
    yield url
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = _require("TEST_REDIS_URL")
    db_number = int(urlsplit(url).path.lstrip("/") or 0)
    assert db_number != 0, "the suite needs a Redis db number of its own, not db 0"
    return url


def base_config(database_url: str, redis_url: str, **overrides: Any) -> dict[str, Any]:
    """The testing configuration every app of the suite starts from."""
    config = {
        "APP_ENV": "testing",
        "TESTING": True,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SESSION_SECRET": "test-session-secret-" + "x" * 32,
        "JWT_SECRET": "test-jwt-secret-" + "y" * 32,
        # The suite's Redis has no maxmemory and is shared with other runs: the response
        # cache's memory share is checked against private servers (test_cache_memory.py).
        "REDIS_MEMORY_LIMIT": 1 << 40,
    }
    config.update(overrides)
    return config


@pytest.fixture
def make_app(database_url: str, redis_url: str) -> Iterator[Callable[..., Flask]]:
    """Build extra app instances (a second instance, another Redis); closed at teardown."""
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        app = create_app(base_config(database_url, redis_url, **overrides))
        apps.append(app)
        return app

    yield build
    for app in apps:
        close_app(app)


@pytest.fixture
def app(make_app: Callable[..., Flask], db: Any, redis: redis_lib.Redis) -> Flask:
    return make_app()


@pytest.fixture
def log_stream(app: Flask) -> Iterator[io.StringIO]:
    """What the service's log handler (set up by the first app) writes during one test:
    every line, the access lines included (they are written to the handler's stream, not
    as `logging` records, so caplog does not see them)."""
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "marketplace", False))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


@pytest.fixture
def db(database_url: str) -> Iterator[Any]:
    """A psycopg2 connection (autocommit) to the suite's database, emptied before the test."""
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
    yield conn
    conn.close()


@pytest.fixture
def private_redis(tmp_path: Any) -> Iterator[PrivateRedis]:
    """A redis-server of the test's own on a free port, for tests that stop, kill, freeze
    or flush it; stopped at the end whatever state the test left it in."""
    with PrivateRedis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the test's own, migrated, for tests that stop, kill or freeze
    it; stopped at the end whatever state the test left it in."""
    with PrivatePostgres() as server:
        upgrade(server.url)
        yield server


@pytest.fixture
def redis(redis_url: str) -> Iterator[redis_lib.Redis]:
    """A client on the suite's own Redis db, flushed before the test."""
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()

