"""Ordered .sql migrations, each in its own transaction, recorded, and safe to run concurrently."""
from __future__ import annotations

from importlib import resources

import psycopg2

# Any constant works; it only has to be the same for every instance of the service.
ADVISORY_LOCK_ID = 7_215_304_117


def migration_files() -> list[tuple[str, str]]:
    """(name, sql) of every migration shipped in the package, in file-name order."""
    folder = resources.files("marketplace") / "migrations"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name, (folder / name).read_text(encoding="utf-8")) for name in names]


def upgrade(dsn: str) -> list[str]:
    """Apply what is missing; returns the names applied (empty when up to date).

    A session-level advisory lock makes a second instance wait for the first one and then
    find nothing left to do, instead of both creating the same tables.
    """
    conn = psycopg2.connect(dsn, connect_timeout=10, application_name="marketplace-migrate")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_ID,))
        try:
            return _apply_missing(conn)
        finally:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_ID,))
    finally:
        conn.close()


def _apply_missing(conn: psycopg2.extensions.connection) -> list[str]:
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur.execute("SELECT name FROM schema_migrations")
        done = {row[0] for row in cur.fetchall()}
    applied = []
    conn.autocommit = False
    try:
        for name, sql in migration_files():
            if name in done:
                continue
            with conn:  # one transaction per migration: all of it or none of it
                with conn.cursor() as cur:
                    cur.execute(sql)
                    cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
            applied.append(name)
    finally:
        conn.autocommit = True
    return applied
