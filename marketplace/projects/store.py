"""SQL of projects and proposals. Reads return data with the generation of their snapshot
(what the response cache tags entries with); every write is a `writes.write()` that touches
the projects it changed, so the caches of every instance drop them, whatever Redis hears."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2.errors

from marketplace import generations as gen
from marketplace import writes
from marketplace.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthorized
from marketplace.extensions import db
from marketplace.projects.query import ListQuery
from marketplace.projects.serialize import (
    EXCERPT_CHARS,
    list_item,
    public_project,
    public_proposal,
)

PROJECT_COLUMNS = ("id, title, description, budget, skills, status, owner_id, deadline, "
                   "proposal_count, created_at, updated_at")
# Lists read enough of each description to cut an excerpt and tell whether it was cut.
LIST_COLUMNS = (f"id, title, left(description, {EXCERPT_CHARS + 1}) AS description, budget, "
                "skills, status, owner_id, deadline, proposal_count, created_at, updated_at")
PROPOSAL_COLUMNS = "id, project_id, agent_id, cover_letter, bid_amount, status, created_at"
FEATURED_LIMIT = 10
_ORDER = {"newest": "created_at DESC, id DESC", "budget": "budget DESC, id DESC"}
# PATCH may only move a project along these edges; any other change of status is a 409.
_TRANSITIONS = {("open", "cancelled"), ("in_progress", "completed")}
# The part of a search the GIN index can look up: 'T' when there is none (only -excluded
# words), '' when nothing is left (only stop words or punctuation). Either would scan.
_SEARCHABLE = "querytree(websearch_to_tsquery('english', %s)) NOT IN ('T', '')"
UNSEARCHABLE = ("must contain a word to search for (stop words, punctuation and "
                "-excluded words alone match nothing)")

FEATURED_SQL = f"""
    SELECT g.value AS generation, p.* FROM cache_generations g
    LEFT JOIN LATERAL (
        SELECT {LIST_COLUMNS} FROM projects WHERE status = 'open'
        ORDER BY budget DESC, id DESC LIMIT %s
    ) p ON true
    WHERE g.name = %s"""


@contextmanager
def _write() -> Iterator[writes.Write]:
    """A write of projects or proposals; a user who no longer exists (removed in the
    database, not yet known to the caches) writing is a 401, never a foreign-key 500."""
    try:
        with writes.write() as change:
            yield change
    except psycopg2.errors.ForeignKeyViolation:
        raise Unauthorized("The account no longer exists.") from None


def _filters(query: ListQuery) -> tuple[str, list[Any]]:
    """WHERE clause over indexed columns only (status b-tree, skills GIN, search GIN).

    A search with no term the index can look up would read every row; the guard is a
    constant the planner folds, so such a statement plans to nothing and scans nothing.
    """
    clauses, params = ["true"], []
    if query.status:
        clauses.append("status = %s")
        params.append(query.status)
    if query.skill:
        clauses.append("skills @> ARRAY[%s]::text[]")
        params.append(query.skill)
    if query.q:
        clauses += [_SEARCHABLE, "search @@ websearch_to_tsquery('english', %s)"]
        params += [query.q, query.q]
    return " AND ".join(clauses), params


def list_statement(query: ListQuery) -> tuple[str, list[Any]]:
    """One statement, one snapshot: the generation, whether `q` is searchable, the total and
    the page (EXPLAINed in tests). The page is a deferred join: its ids come from an
    index(-only) scan in the sort order, then only those rows are read."""
    where, params = _filters(query)
    searchable, searchable_params = (_SEARCHABLE, [query.q]) if query.q else ("true", [])
    order = _ORDER[query.sort]
    sql = f"""
        SELECT g.value AS generation, {searchable} AS searchable, c.total, p.*
        FROM cache_generations g
        CROSS JOIN (SELECT count(*) AS total FROM projects WHERE {where}) c
        LEFT JOIN LATERAL (
            SELECT {LIST_COLUMNS} FROM (
                SELECT id FROM projects WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s
            ) page JOIN projects USING (id)
            ORDER BY {order}
        ) p ON true
        WHERE g.name = %s"""
    offset = (query.page - 1) * query.per_page
    return sql, [*searchable_params, *params, *params, query.per_page, offset, gen.PROJECTS]


def list_projects(query: ListQuery) -> tuple[int, dict[str, Any]]:
    """A page of list items; 400 when `q` has nothing to search for (nothing was scanned)."""
    with db.transaction(readonly=True) as cur:
        cur.execute(*list_statement(query))
        rows = cur.fetchall()
    if not rows[0]["searchable"]:
        raise InvalidRequest(details={"q": UNSEARCHABLE})
    total = int(rows[0]["total"])
    return int(rows[0]["generation"]), {
        "data": [list_item(row) for row in rows if row["id"] is not None],
        "pagination": {"page": query.page, "per_page": query.per_page, "total": total,
                       "pages": -(-total // query.per_page)},
    }


def featured_projects() -> tuple[int, dict[str, Any]]:
    """Open projects with the highest budgets (the status/budget index), with the generation."""
    with db.transaction(readonly=True) as cur:
        cur.execute(FEATURED_SQL, (FEATURED_LIMIT, gen.PROJECTS))
        rows = cur.fetchall()
    data = [list_item(row) for row in rows if row["id"] is not None]
    return int(rows[0]["generation"]), {"data": data}


def get_project(project_id: str) -> tuple[int, dict[str, Any]]:
    """The project and the generation of the same snapshot; 404 when unknown."""
    with db.transaction(readonly=True) as cur:
        cur.execute(f"""
            SELECT g.value AS generation, p.* FROM cache_generations g
            LEFT JOIN (SELECT {PROJECT_COLUMNS} FROM projects WHERE id = %s) p ON true
            WHERE g.name = %s""", (project_id, gen.PROJECTS))
        row = cur.fetchone()
    if row["id"] is None:
        raise NotFound("Project not found.")
    return int(row["generation"]), {"project": public_project(row)}


def _lock_project(cur: Any, project_id: str) -> dict[str, Any]:
    cur.execute(f"SELECT {PROJECT_COLUMNS} FROM projects WHERE id = %s FOR UPDATE", (project_id,))
    row = cur.fetchone()
    if row is None:
        raise NotFound("Project not found.")
    return row


def _require_owner(project: dict[str, Any], user: dict[str, Any], *, admin: bool = True) -> None:
    if str(project["owner_id"]) != user["id"] and not (admin and user["role"] == "admin"):
        raise Forbidden("Only the project's owner may do this.")


def create_project(owner_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    with _write() as change:
        change.cur.execute(f"""
            INSERT INTO projects (owner_id, title, description, budget, skills, deadline)
            VALUES (%s, %s, %s, %s, %s, %s) RETURNING {PROJECT_COLUMNS}""",
            (owner_id, fields["title"], fields["description"], fields["budget"],
             fields["skills"], fields["deadline"]))
        row = change.cur.fetchone()
        change.touch(gen.PROJECTS, row["id"])
    return public_project(row)


def update_project(project_id: str, user: dict[str, Any],
                   changes: dict[str, Any]) -> dict[str, Any]:
    with _write() as change:
        cur = change.cur
        project = _lock_project(cur, project_id)
        _require_owner(project, user)
        status = changes.get("status")
        if status is not None and status != project["status"] \
                and (project["status"], status) not in _TRANSITIONS:
            raise Conflict(f"A project cannot go from {project['status']} to {status}.")
        assignments = ", ".join(f"{name} = %s" for name in changes)  # names from the schema
        cur.execute(f"""
            UPDATE projects SET {assignments}, updated_at = now() WHERE id = %s
            RETURNING {PROJECT_COLUMNS}""", (*changes.values(), project_id))
        row = cur.fetchone()
        change.touch(gen.PROJECTS, project_id)
    return public_project(row)


def delete_project(project_id: str, user: dict[str, Any]) -> None:
    with _write() as change:
        _require_owner(_lock_project(change.cur, project_id), user)
        change.cur.execute("DELETE FROM projects WHERE id = %s", (project_id,))
        change.touch(gen.PROJECTS, project_id)


def create_proposal(project_id: str, agent_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The project row lock orders proposals against accept, delete and status changes."""
    with _write() as change:
        cur = change.cur
        if _lock_project(cur, project_id)["status"] != "open":
            raise Conflict("The project is not open for proposals.")
        cur.execute(f"""
            INSERT INTO proposals (project_id, agent_id, cover_letter, bid_amount)
            VALUES (%s, %s, %s, %s) ON CONFLICT (project_id, agent_id) DO NOTHING
            RETURNING {PROPOSAL_COLUMNS}""",
            (project_id, agent_id, fields["cover_letter"], fields["bid_amount"]))
        row = cur.fetchone()
        if row is None:
            raise Conflict("You have already sent a proposal for this project.")
        cur.execute("UPDATE projects SET proposal_count = proposal_count + 1 WHERE id = %s",
                    (project_id,))
        change.touch(gen.PROJECTS, project_id)
    return public_proposal(row)


def list_proposals(project_id: str, user: dict[str, Any]) -> list[dict[str, Any]]:
    with db.transaction(readonly=True) as cur:
        cur.execute("SELECT owner_id FROM projects WHERE id = %s", (project_id,))
        project = cur.fetchone()
        if project is None:
            raise NotFound("Project not found.")
        _require_owner(project, user)
        cur.execute(f"SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE project_id = %s "
                    "ORDER BY created_at, id", (project_id,))
        return [public_proposal(row) for row in cur.fetchall()]


def accept_proposal(project_id: str, proposal_id: str, user: dict[str, Any]) -> dict[str, Any]:
    """One transaction under the project's row lock: of two concurrent accepts one gets 409."""
    with _write() as change:
        cur = change.cur
        project = _lock_project(cur, project_id)
        _require_owner(project, user, admin=False)
        cur.execute("SELECT status FROM proposals WHERE id = %s AND project_id = %s",
                    (proposal_id, project_id))
        proposal = cur.fetchone()
        if proposal is None:
            raise NotFound("Proposal not found.")
        if project["status"] != "open" or proposal["status"] != "pending":
            raise Conflict("The project is not open, or the proposal is no longer pending.")
        cur.execute(f"""
            UPDATE proposals SET status = CASE WHEN id = %s THEN 'accepted' ELSE 'rejected' END
            WHERE project_id = %s AND status = 'pending' RETURNING {PROPOSAL_COLUMNS}""",
            (proposal_id, project_id))
        accepted = next(row for row in cur.fetchall() if str(row["id"]) == proposal_id)
        cur.execute(f"""UPDATE projects SET status = 'in_progress', updated_at = now()
                        WHERE id = %s RETURNING {PROJECT_COLUMNS}""", (project_id,))
        row = cur.fetchone()
        change.touch(gen.PROJECTS, project_id)
    return {"project": public_project(row), "proposal": public_proposal(accepted)}


def remove_content_of(change: writes.Write, user_id: str) -> dict[str, int]:
    """Inside an account's removal: its projects go (with their proposals), its proposals on
    other projects go and those projects' `proposal_count` drops; a project whose accepted
    proposal goes keeps its status. Returns how many of each were removed."""
    cur = change.cur
    cur.execute("""
        WITH gone AS (DELETE FROM proposals WHERE agent_id = %s RETURNING project_id)
        UPDATE projects p SET proposal_count = p.proposal_count - g.n, updated_at = now()
        FROM (SELECT project_id, count(*) AS n FROM gone GROUP BY project_id) g
        WHERE p.id = g.project_id AND p.owner_id <> %s
        RETURNING p.id, g.n""", (user_id, user_id))
    touched = cur.fetchall()
    cur.execute("DELETE FROM projects WHERE owner_id = %s RETURNING id", (user_id,))
    owned = cur.fetchall()
    for row in (*touched, *owned):
        change.touch(gen.PROJECTS, row["id"])
    return {"projects": len(owned), "proposals": sum(int(row["n"]) for row in touched)}
