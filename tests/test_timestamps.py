"""Every timestamp of the API is ISO 8601 in UTC with `Z`, whatever time zone PostgreSQL
sessions run in: users as projects, proposals and health answers."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.plugins.auth import DEFAULT_PASSWORD


@pytest.fixture
def far_time_zone(database_url: str, db: Any) -> Iterator[None]:
    """New connections to the suite's database run in a time zone far from UTC."""
    name = urlsplit(database_url).path.lstrip("/")
    with db.cursor() as cur:
        cur.execute(f'ALTER DATABASE "{name}" SET timezone = \'Pacific/Kiritimati\'')
    yield
    with db.cursor() as cur:
        cur.execute(f'ALTER DATABASE "{name}" RESET timezone')


def _utc(value: str) -> datetime:
    assert value.endswith("Z") and "+" not in value, value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert moment.utcoffset().total_seconds() == 0
    return moment


def test_every_timestamp_is_utc_with_z(far_time_zone: None, make_app: Any, redis: Any) -> None:
    app = make_app()  # its pool connects after the time zone was set
    client = app.test_client()
    registered = client.post("/api/v1/auth/register", json={
        "email": "tz@example.com", "password": DEFAULT_PASSWORD, "name": "TZ"})
    created = _utc(registered.json["user"]["created_at"])
    assert abs((created - datetime.now(UTC)).total_seconds()) < 60
    headers = {"Authorization": f"Bearer {registered.json['access_token']}"}
    for _ in range(2):  # from PostgreSQL, then from the user cache
        assert _utc(client.get("/api/v1/auth/me", headers=headers).json["user"]["created_at"])
    project = client.post("/api/v1/projects", headers=headers, json={
        "title": "Time zones", "budget": 10, "deadline": "2030-06-01"}).json["project"]
    for name in ("created_at", "updated_at", "deadline"):
        _utc(project[name])
    assert project["deadline"] == "2030-06-01T00:00:00Z"
    _utc(client.get("/api/v1/health").json["timestamp"])
