"""Rows to the contract's JSON: ids as strings, amounts as numbers, timestamps ISO 8601 UTC.

A list item carries an excerpt of the description, not all of it: a page of 100 projects
with 10,000-character descriptions would be megabytes per response and per cache entry.
The detail route and every write answer with the whole project.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

EXCERPT_CHARS = 280  # at most this many characters, the ellipsis included
ELLIPSIS = "\u2026"
_LAST_SPACE = re.compile(r"\s\S*\Z")


def iso_utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def amount(value: Decimal) -> int | float:
    """A JSON number: whole amounts as integers, cents as a float (numeric(12,2) fits a double)."""
    return int(value) if value == value.to_integral_value() else float(value)


def public_project(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "title": row["title"],
        "description": row["description"],
        "budget": amount(row["budget"]),
        "skills": list(row["skills"]),
        "status": row["status"],
        "owner_id": str(row["owner_id"]),
        "deadline": iso_utc(row["deadline"]),
        "proposal_count": row["proposal_count"],
        "created_at": iso_utc(row["created_at"]),
        "updated_at": iso_utc(row["updated_at"]),
    }


def excerpt(text: str) -> tuple[str, bool]:
    """(`text`, False) when it fits, else its start cut at a word boundary (when one lies in
    the second half) with an ellipsis, and True."""
    if len(text) <= EXCERPT_CHARS:
        return text, False
    cut = text[:EXCERPT_CHARS - len(ELLIPSIS) + 1]  # one more: a space there ends a word
    boundary = _LAST_SPACE.search(cut)
    if boundary is not None and boundary.start() >= EXCERPT_CHARS // 2:
        cut = cut[:boundary.start()]
    else:
        cut = cut[:-1]
    return cut.rstrip() + ELLIPSIS, True


def list_item(row: dict[str, Any]) -> dict[str, Any]:
    """A project as lists show it: `description` an excerpt, `description_truncated` set
    when it is one. The row's description may itself be a prefix, as long as it is longer
    than EXCERPT_CHARS whenever the whole one is (see store.LIST_COLUMNS)."""
    item = public_project(row)
    item["description"], item["description_truncated"] = excerpt(row["description"])
    return item


def public_proposal(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "project_id": str(row["project_id"]),
        "agent_id": str(row["agent_id"]),
        "cover_letter": row["cover_letter"],
        "bid_amount": amount(row["bid_amount"]),
        "status": row["status"],
        "created_at": iso_utc(row["created_at"]),
    }
