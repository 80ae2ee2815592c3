"""A statement cancelled by DB_STATEMENT_TIMEOUT_MS is a 503 for that request only: its
connection is rolled back and returned, the pool keeps its other idle connections, and the
next requests run on the same PostgreSQL backends."""
from __future__ import annotations

import logging
import time
from typing import Any

import psycopg2

from tests.plugins.auth import AuthActions
from tests.plugins.projects import PROJECTS


def backends(db: Any) -> set[int]:
    """The app's pooled connections, as PostgreSQL sees them."""
    with db.cursor() as cur:
        cur.execute("SELECT pid FROM pg_stat_activity WHERE application_name = 'marketplace' "
                    "AND datname = current_database()")
        return {row[0] for row in cur.fetchall()}


def test_a_statement_timeout_is_a_503_and_keeps_the_pool(
        make_app: Any, db: Any, redis: Any, database_url: str, caplog: Any) -> None:
    app = make_app(DB_STATEMENT_TIMEOUT_MS=300, DB_POOL_MAX=4)
    client = app.test_client()
    owner = AuthActions(app).register("client")
    project = client.post(PROJECTS, json={"title": "Locked project", "budget": 10},
                          headers=owner["headers"]).json["project"]
    url = f"{PROJECTS}/{project['id']}"
    pool = app.extensions["database"]
    with pool.connection(), pool.connection():  # two idle connections, as after two requests
        pass
    before = backends(db)
    assert len(before) == 2

    locker = psycopg2.connect(database_url, application_name="test-locker")
    try:
        with locker.cursor() as cur:  # holds the row lock the PATCH needs
            cur.execute("SELECT 1 FROM projects WHERE id = %s FOR UPDATE", (project["id"],))
        caplog.set_level(logging.WARNING, logger="marketplace.db")
        started = time.monotonic()
        waited = client.patch(url, json={"title": "Renamed"}, headers=owner["headers"])
        assert time.monotonic() - started < 3
        assert waited.status_code == 503, waited.json
        assert waited.json["code"] == "service_unavailable"
        assert "statement" not in waited.json["error"]  # no driver text
        assert backends(db) == before  # the cancelled request's connection is back too
    finally:
        locker.rollback()
        locker.close()
    cancelled = [r for r in caplog.records if r.name == "marketplace.db"]
    assert len(cancelled) == 1 and "cancel" in cancelled[0].getMessage()

    renamed = client.patch(url, json={"title": "Renamed"}, headers=owner["headers"])
    assert renamed.status_code == 200 and renamed.json["project"]["title"] == "Renamed"
    assert client.get(url).json["project"]["title"] == "Renamed"
    assert client.get(PROJECTS).status_code == 200
    assert backends(db) == before  # the same PostgreSQL backends served them
