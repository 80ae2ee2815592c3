"""SQL of the stats domain: the marketplace's counts, read in one snapshot."""
from __future__ import annotations

from typing import Any

from marketplace import generations as gen
from marketplace.extensions import db

PROJECT_STATUSES = ("open", "in_progress", "completed", "cancelled")

SUMMARY_SQL = """
    SELECT (SELECT value FROM cache_generations WHERE name = %s) AS generation,
           (SELECT count(*) FROM users) AS users,
           (SELECT count(*) FROM proposals) AS proposals,
           p.*
    FROM (SELECT count(*) FILTER (WHERE status = 'open') AS open,
                 count(*) FILTER (WHERE status = 'in_progress') AS in_progress,
                 count(*) FILTER (WHERE status = 'completed') AS completed,
                 count(*) FILTER (WHERE status = 'cancelled') AS cancelled
          FROM projects) p"""


def summary() -> tuple[int, dict[str, Any]]:
    """(projects generation of the snapshot, the contract's summary payload); one statement."""
    with db.transaction(readonly=True) as cur:
        cur.execute(SUMMARY_SQL, (gen.PROJECTS,))
        row = cur.fetchone()
    payload = {
        "users": int(row["users"]),
        "projects": {status: int(row[status]) for status in PROJECT_STATUSES},
        "proposals": int(row["proposals"]),
    }
    return int(row["generation"] or 0), payload
