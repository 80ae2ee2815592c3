"""Runs last among the auth tests: the auth paths never send KEYS (nor SCAN) to Redis."""
from __future__ import annotations

import pathlib
import re
from typing import Any

import redis as redis_lib

from marketplace.stats import presence


def _calls(redis: Any, command: str) -> int:
    return int(redis.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))


def test_no_keys_command_on_any_auth_path(auth: Any, app: Any, client: Any, redis: Any) -> None:
    """Commandstats are server-wide: compare before/after instead of resetting them."""
    server = redis_lib.Redis.from_url(app.config["REDIS_URL"])
    keys_before = _calls(server, "keys")
    user = auth.register()
    client.post("/api/v1/auth/register", json={"email": "k@example.com",
                                               "password": "correct-horse-9", "name": "K"})
    login = client.post("/api/v1/auth/login", json={"email": "k@example.com",
                                                    "password": "correct-horse-9"})
    headers = {"Authorization": f"Bearer {login.json['access_token']}"}
    client.get("/api/v1/auth/me", headers=headers)
    client.get("/api/v1/auth/me")
    client.post("/api/v1/auth/refresh",
                headers={"Authorization": f"Bearer {user['refresh_token']}"})
    client.post("/api/v1/auth/logout", headers=headers)
    redis.flushdb()
    client.get("/api/v1/auth/me", headers=headers)  # rebuilds the revocation bucket
    with app.app_context():
        assert presence.count_active() >= 0
    assert _calls(server, "keys") == keys_before


def test_auth_code_has_no_keyspace_scans() -> None:
    source = pathlib.Path(__file__).parents[1] / "marketplace" / "auth"
    for path in source.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"(client|pipe)\.(keys|scan|scan_iter)\(", text), path
