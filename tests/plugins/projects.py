"""Fixtures of the projects domain: SQL factories (no HTTP, no rate limit spent) and helpers."""
from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any

import pytest

_counter = itertools.count(1)
PROJECTS = "/api/v1/projects"


def make_user(db: Any, role: str = "client") -> str:
    """A user row straight in the database (its hash matches no password); returns its id."""
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO users (email, password_hash, name, role) VALUES (%s, 'x', %s, %s) "
            "RETURNING id",
            (f"factory{next(_counter)}-{uuid.uuid4().hex[:8]}@example.com", "Factory", role),
        )
        return str(cur.fetchone()[0])


def make_project(db: Any, owner_id: str | None = None, **fields: Any) -> str:
    """A project row (defaults for every field not given); returns its id."""
    values = {"title": f"Project {next(_counter)}", "description": "Build something useful",
              "budget": 1000, "skills": [], "status": "open", **fields}
    values["owner_id"] = owner_id or make_user(db)
    names = ", ".join(values)
    placeholders = ", ".join(["%s"] * len(values))
    with db.cursor() as cur:
        cur.execute(f"INSERT INTO projects ({names}) VALUES ({placeholders}) RETURNING id",
                    list(values.values()))
        return str(cur.fetchone()[0])


def ids(response: Any) -> list[str]:
    """The project ids of a list page, in order."""
    return [project["id"] for project in response.json["data"]]


def cache_keys(redis: Any) -> list[bytes]:
    """The response-cache keys (SCAN is fine in a test; the service never scans)."""
    return sorted(redis.scan_iter(match="cache:*", count=1000))


@pytest.fixture
def new_user(db: Any) -> Callable[..., str]:
    return lambda role="client": make_user(db, role)


@pytest.fixture
def new_project(db: Any) -> Callable[..., str]:
    return lambda owner_id=None, **fields: make_project(db, owner_id, **fields)
