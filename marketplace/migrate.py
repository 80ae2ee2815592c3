"""Ordered .sql migrations, each in its own transaction, recorded, and safe to run concurrently;
and the advisory lock every start-time step (`release`) takes."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

import psycopg2

# Any constant works; it only has to be the same for every instance of the service.
ADVISORY_LOCK_ID = 7_215_304_117


def migration_files() -> list[tuple[str, str]]:
    """(name, sql) of every migration shipped in the package, in file-name order."""
    folder = resources.files("marketplace") / "migrations"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name, (folder / name).read_text(encoding="utf-8")) for name in names]


@contextmanager
def one_at_a_time(dsn: str, lock_id: int,
                  name: str) -> Iterator[psycopg2.extensions.connection]:
    """A session-level advisory lock on a connection of its own (autocommit), held for the
    block: a second instance starting at the same moment waits for the first one, then finds
    its work done."""
    conn = psycopg2.connect(dsn, connect_timeout=10, application_name=name)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (lock_id,))
        try:
            yield conn
        finally:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (lock_id,))
    finally:
        conn.close()


def upgrade(dsn: str) -> list[str]:
    """Apply what is missing; returns the names applied (empty when up to date), safe from
    two instances at once (`one_at_a_time`)."""
    with one_at_a_time(dsn, ADVISORY_LOCK_ID, "marketplace-migrate") as conn:
        return _apply_missing(conn)


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
