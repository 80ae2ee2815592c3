"""`flask db upgrade`: idempotent, one transaction per file, safe from two processes at once."""
import os
import subprocess
import uuid

import psycopg2
import pytest

from marketplace.migrate import migration_files
from scripts.processes import ROOT, venv_tool
from tests.helpers import with_database


@pytest.fixture
def fresh_database(database_url):
    name = f"marketplace_migrate_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(with_database(database_url, "postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    yield with_database(database_url, name)
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def flask_upgrade(database_url, redis_url):
    env = {**os.environ, "APP_ENV": "testing", "DATABASE_URL": database_url,
           "REDIS_URL": redis_url, "SESSION_SECRET": "s" * 40, "JWT_SECRET": "j" * 40}
    return subprocess.Popen(
        [venv_tool("flask"), "--app", "marketplace", "db", "upgrade"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def applied(database_url):
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT name FROM schema_migrations ORDER BY name")
        return [row[0] for row in cur.fetchall()]


def test_upgrade_twice_is_a_no_op_the_second_time(fresh_database, redis_url):
    first = flask_upgrade(fresh_database, redis_url)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert "applied" in out
    second = flask_upgrade(fresh_database, redis_url)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert "up to date" in out
    assert applied(fresh_database) == [name for name, _ in migration_files()]


def test_two_processes_at_once_both_succeed(fresh_database, redis_url):
    processes = [flask_upgrade(fresh_database, redis_url) for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert sorted("up to date" in out for out, _ in outputs) == [False, True]
    assert applied(fresh_database) == [name for name, _ in migration_files()]


def test_a_failing_migration_leaves_nothing_behind(fresh_database, tmp_path, monkeypatch):
    from marketplace import migrate

    good = migration_files()
    broken = [*good, ("9999_broken.sql", "CREATE TABLE half_done (id int); SELECT 1/0;")]
    monkeypatch.setattr(migrate, "migration_files", lambda: broken)
    with pytest.raises(psycopg2.Error):
        migrate.upgrade(fresh_database)
    assert applied(fresh_database) == [name for name, _ in good]
    with psycopg2.connect(fresh_database) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('half_done')")
        assert cur.fetchone()[0] is None
