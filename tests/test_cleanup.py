"""Trimming `revoked_tokens`: the cleanup command and the service's own hourly trim delete
the rows of expired tokens only, and never disturb a request."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest

from marketplace.auth import revocation
from marketplace.auth.revocation import TRIM_LOCK_ID
from marketplace.auth.revocation import trim_all_expired as trim_all_revoked_tokens
from marketplace.auth.revocation import trim_expired as trim_revoked_tokens
from marketplace.keys import REVOKED_EXPIRY_MARGIN as EXPIRY_MARGIN
from marketplace.periodic import TRIM_INTERVAL
from scripts.processes import ROOT
from tests.helpers import count_rows


def revoked(db: Any, n: int, expires_in: float) -> None:
    """`n` revoked_tokens rows whose token expires `expires_in` seconds from now (< 0: past)."""
    expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
    with db.cursor() as cur:
        for _ in range(n):
            cur.execute("INSERT INTO revoked_tokens (jti, expires_at) VALUES (%s, %s)",
                        (uuid.uuid4().hex, expires_at))


def expiries(db: Any) -> list[datetime]:
    with db.cursor() as cur:
        cur.execute("SELECT expires_at FROM revoked_tokens ORDER BY expires_at")
        return [row[0] for row in cur.fetchall()]


@pytest.fixture
def mixed_rows(db: Any) -> dict[str, int]:
    """Rows long expired, expired within the clock-skew margin, and still valid."""
    counts = {"expired": 30, "within_margin": 4, "valid": 6}
    revoked(db, counts["expired"], -2 * 3600)
    revoked(db, counts["within_margin"], -EXPIRY_MARGIN / 2)
    revoked(db, counts["valid"], 600)
    return counts


def test_cleanup_removes_expired_rows_only_and_reports_how_many(
        app: Any, db: Any, mixed_rows: dict[str, int]) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["cleanup"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "removed 30 expired revoked token(s)"
    kept = mixed_rows["within_margin"] + mixed_rows["valid"]
    assert count_rows(db, "revoked_tokens") == kept
    oldest_allowed = datetime.now(UTC) - timedelta(seconds=EXPIRY_MARGIN)
    assert all(expiry >= oldest_allowed for expiry in expiries(db))
    assert runner.invoke(args=["cleanup"]).output.strip() == "removed 0 expired revoked token(s)"
    assert count_rows(db, "revoked_tokens") == kept


def test_cleanup_works_in_batches(app: Any, db: Any) -> None:
    revoked(db, 23, -3600)
    revoked(db, 2, 3600)
    with app.app_context():
        assert trim_revoked_tokens(batch=10) == 10  # one call, one batch
        assert trim_all_revoked_tokens(batch=5) == 13  # 5 + 5 + 3
    assert count_rows(db, "revoked_tokens") == 2


def test_a_revoked_token_stays_revoked_after_cleanup(app: Any, client: Any, auth: Any,
                                                     db: Any) -> None:
    headers = auth.headers()
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 200
    revoked(db, 5, -3600)
    assert app.test_cli_runner().invoke(args=["cleanup"]).output.strip() == \
        "removed 5 expired revoked token(s)"
    again = client.get("/api/v1/auth/me", headers=headers)
    assert again.status_code == 401 and again.json["code"] == "token_revoked"


def test_cleanup_exits_2_when_the_database_is_unreachable(make_app: Any, redis: Any) -> None:
    app = make_app(DATABASE_URL="postgresql://root@127.0.0.1:1/nowhere")
    result = app.test_cli_runner().invoke(args=["cleanup"])
    assert result.exit_code == 2
    assert "database unreachable" in result.output


def test_cleanup_from_the_shell(db: Any, redis_url: str, database_url: str) -> None:
    revoked(db, 3, -3600)
    env = {**os.environ, "APP_ENV": "production", "REDIS_URL": redis_url,
           "DATABASE_URL": database_url, "SESSION_SECRET": "s" * 40, "JWT_SECRET": "j" * 40}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "marketplace", "cleanup"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "removed 3 expired revoked token(s)"
    assert count_rows(db, "revoked_tokens") == 0


def test_concurrent_trims_delete_each_row_once(app: Any, db: Any) -> None:
    revoked(db, 200, -3600)
    start = threading.Barrier(6)
    results: list[int | None] = []
    errors: list[BaseException] = []

    def trim() -> None:
        with app.app_context():
            start.wait()
            try:
                results.append(trim_revoked_tokens())
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

    threads = [threading.Thread(target=trim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sum(n or 0 for n in results) == 200  # skipped (None) or deleted: never twice
    assert count_rows(db, "revoked_tokens") == 0


# ---- the service's own trim, from the periodic check after requests


def _trim_lines(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == revocation.log.name and "revoked_tokens trim" in r.getMessage()]


def test_the_service_trims_after_a_request_at_most_once_an_hour(
        make_app: Any, db: Any, redis: Any, caplog: Any) -> None:
    app = make_app(ALERT_CHECK_INTERVAL=1)  # a fresh app: every job is due
    client = app.test_client()
    caplog.set_level(logging.INFO, logger=revocation.log.name)
    revoked(db, 12, -3600)
    revoked(db, 3, 3600)
    assert client.get("/api/v1/health").status_code == 200
    assert count_rows(db, "revoked_tokens") == 3
    assert _trim_lines(caplog) == ["revoked_tokens trim: removed 12 expired row(s)"]

    revoked(db, 5, -3600)
    jobs = app.extensions["periodic"]
    jobs.make_due("redis-check")  # the check runs again...
    assert client.get("/api/v1/health").status_code == 200
    assert count_rows(db, "revoked_tokens") == 8  # ...but the hour has not passed
    assert jobs.jobs["trim"].interval == TRIM_INTERVAL

    jobs.make_due("trim")  # an hour later
    assert client.get("/api/v1/health").status_code == 200
    assert count_rows(db, "revoked_tokens") == 3


def test_the_trim_is_off_with_the_periodic_check(make_app: Any, db: Any, redis: Any) -> None:
    client = make_app(ALERT_CHECK_INTERVAL=0).test_client()
    revoked(db, 4, -3600)
    assert client.get("/api/v1/health").status_code == 200
    assert count_rows(db, "revoked_tokens") == 4


def test_the_service_skips_the_trim_while_another_process_trims(
        make_app: Any, db: Any, redis: Any, database_url: str) -> None:
    client = make_app(ALERT_CHECK_INTERVAL=1).test_client()
    revoked(db, 4, -3600)
    other = psycopg2.connect(database_url)
    try:
        with other.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (TRIM_LOCK_ID,))
        assert client.get("/api/v1/health").status_code == 200
        assert count_rows(db, "revoked_tokens") == 4  # left to the lock holder, no wait
    finally:
        other.rollback()
        other.close()


def test_a_database_outage_never_reaches_the_client(make_app: Any, redis: Any,
                                                    caplog: Any) -> None:
    app = make_app(ALERT_CHECK_INTERVAL=1, DATABASE_URL="postgresql://root@127.0.0.1:1/nowhere")
    caplog.set_level(logging.INFO, logger=revocation.log.name)
    response = app.test_client().get("/api/v1/health")
    assert response.status_code == 200 and response.json["status"] == "ok"
    assert _trim_lines(caplog) == ["revoked_tokens trim skipped: ServiceUnavailable"]
