"""The auth paths never send KEYS (nor SCAN) to Redis.

Counted on a private Redis: INFO commandstats counts every client of a server, so on the
shared one any other client's KEYS (another suite, the bench) would be counted too.
"""
from __future__ import annotations

import pathlib
import re
from typing import Any

import redis as redis_lib

from marketplace.stats import presence
from scripts.processes import redis_command_calls
from tests.plugins.auth import DEFAULT_PASSWORD, AuthActions, bearer, login


def test_no_keys_command_on_any_auth_path(make_app: Any, db: Any, private_redis: Any) -> None:
    """Compare before/after instead of resetting the server's statistics."""
    app = make_app(REDIS_URL=private_redis.url)
    client = app.test_client()
    server = redis_lib.Redis.from_url(private_redis.url)
    keys_before = redis_command_calls(server)["keys"]
    user = AuthActions(app).register()
    client.post("/api/v1/auth/register", json={"email": "k@example.com",
                                               "password": DEFAULT_PASSWORD, "name": "K"})
    logged_in = login(client, "k@example.com")
    headers = bearer(logged_in.json["access_token"])
    client.get("/api/v1/auth/me", headers=headers)
    client.get("/api/v1/auth/me")
    client.post("/api/v1/auth/refresh", headers=bearer(user["refresh_token"]))
    client.post("/api/v1/auth/logout", headers=headers)
    server.flushdb()
    client.get("/api/v1/auth/me", headers=headers)  # rebuilds the revocation bucket
    with app.app_context():
        assert presence.count_active() >= 0
    assert redis_command_calls(server)["keys"] == keys_before
    server.close()


def test_auth_code_has_no_keyspace_scans() -> None:
    source = pathlib.Path(__file__).parents[1] / "marketplace" / "auth"
    for path in source.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"(client|pipe)\.(keys|scan|scan_iter)\(", text), path
