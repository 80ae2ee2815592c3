"""Rows to the contract's JSON: ids as strings, amounts as numbers, timestamps ISO 8601 UTC."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


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
