"""Trimming `revoked_tokens`: a row is useless once its token has expired.

A revoked token must stay refused until it expires; after that it is refused as expired
anyway, so its row only grows the table. Rows are kept EXPIRY_MARGIN seconds past their
expiry (as the Redis revocation buckets are), for an instance whose clock runs behind
PostgreSQL's. Run by `flask --app marketplace cleanup` and, about once an hour, by each
process's periodic check (`marketplace/health/monitoring.py`).
"""
from __future__ import annotations

from marketplace.auth.revocation import EXPIRY_MARGIN
from marketplace.extensions import db

# Any constant works; it only has to be the same for every instance (see migrate.py's).
TRIM_LOCK_ID = 7_215_304_119
TRIM_BATCH = 5_000  # rows per DELETE: one statement stays far below the statement timeout


def trim_revoked_tokens(batch: int = TRIM_BATCH, *, wait: bool = False) -> int | None:
    """Delete up to `batch` expired rows, oldest first; the number deleted.

    A transaction-level advisory lock keeps two processes from deleting the same rows:
    with `wait` the caller queues behind another trimmer, without it (the periodic trim)
    it returns None at once and leaves the work to the one already doing it.
    """
    with db.transaction() as cur:
        if wait:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (TRIM_LOCK_ID,))
        else:
            cur.execute("SELECT pg_try_advisory_xact_lock(%s) AS locked", (TRIM_LOCK_ID,))
            if not cur.fetchone()["locked"]:
                return None
        cur.execute(
            "DELETE FROM revoked_tokens WHERE jti IN ("
            " SELECT jti FROM revoked_tokens"
            " WHERE expires_at < now() - make_interval(secs => %s)"
            " ORDER BY expires_at LIMIT %s)",
            (EXPIRY_MARGIN, batch),
        )
        return cur.rowcount


def trim_all_revoked_tokens(batch: int = TRIM_BATCH) -> int:
    """Every expired row, batch after batch (the cleanup command): the number deleted."""
    removed = 0
    while True:
        deleted = trim_revoked_tokens(batch, wait=True) or 0
        removed += deleted
        if deleted < batch:
            return removed
