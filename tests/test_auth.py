"""Accounts: register → login → me, validation, conflicts, token failures, cache, presence, CLI."""
from __future__ import annotations

import base64
import json
import time
from typing import Any

import orjson
import pytest

from marketplace import keys
from marketplace.keys import user as user_key
from marketplace.stats import presence
from tests.plugins.auth import DEFAULT_PASSWORD, bearer, login


def register(client: Any, **fields: Any) -> Any:
    body = {"email": "ada@example.com", "password": DEFAULT_PASSWORD, "name": "Ada", **fields}
    return client.post("/api/v1/auth/register", json=body)


def test_register_login_me_round_trip(client: Any, db: Any) -> None:
    created = register(client, email="  Ada@Example.COM ")
    assert created.status_code == 201, created.json
    body = created.json
    assert body["success"] is True
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["role"] == "client"
    assert set(body["user"]) == {"id", "email", "name", "role", "created_at"}
    assert body["access_token"] and body["refresh_token"]

    logged_in = login(client, "ADA@example.com")
    assert logged_in.status_code == 200, logged_in.json
    assert logged_in.json["user"] == body["user"]
    me = client.get("/api/v1/auth/me", headers=bearer(logged_in.json["access_token"]))
    assert me.status_code == 200, me.json
    assert me.json == {"success": True, "user": body["user"]}

    with db.cursor() as cur:
        cur.execute("SELECT email, password_hash FROM users")
        email, password_hash = cur.fetchone()
    assert email == "ada@example.com"
    assert password_hash.startswith("scrypt:") and DEFAULT_PASSWORD not in password_hash


def test_duplicate_email_in_another_case_is_a_conflict(client: Any) -> None:
    assert register(client).status_code == 201
    again = register(client, email="ADA@EXAMPLE.com")
    assert again.status_code == 409
    assert again.json["code"] == "conflict" and again.json["success"] is False


def test_agent_role_and_admin_refused(client: Any) -> None:
    assert register(client, role="agent").json["user"]["role"] == "agent"
    refused = register(client, email="eve@example.com", role="admin")
    assert refused.status_code == 422
    assert refused.json["code"] == "validation_error"
    assert set(refused.json["details"]) == {"role"}


@pytest.mark.parametrize(("fields", "bad"), [
    ({"email": "not-an-address"}, {"email"}),
    ({"email": "a" * 250 + "@example.com"}, {"email"}),
    ({"password": "short"}, {"password"}),
    ({"password": "x" * 129}, {"password"}),
    ({"name": ""}, {"name"}),
    ({"name": "n" * 101}, {"name"}),
    ({"name": "nul\x00byte"}, {"name"}),
    ({"email": 5, "password": 12345678, "name": None}, {"email", "password", "name"}),
    ({"role": "superuser"}, {"role"}),
])
def test_invalid_fields_are_named(client: Any, fields: dict[str, Any], bad: set[str]) -> None:
    response = register(client, **fields)
    assert response.status_code == 422, response.json
    assert response.json["code"] == "validation_error"
    assert set(response.json["details"]) == bad


def test_missing_fields_are_named(client: Any) -> None:
    response = client.post("/api/v1/auth/register", json={})
    assert response.status_code == 422
    assert set(response.json["details"]) == {"email", "password", "name"}


def test_wrong_password_and_unknown_email_look_the_same(client: Any) -> None:
    register(client)
    wrong = login(client, "ada@example.com", "nope-nope")
    unknown = login(client, "bob@example.com", "nope-nope")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json == {"success": False, "error": "Invalid e-mail or password.",
                                 "code": "invalid_credentials"}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (json.loads(base64.urlsafe_b64decode(pad(header))),
            json.loads(base64.urlsafe_b64decode(pad(payload))), signature)


def test_every_token_failure_is_a_401(auth: Any, client: Any, make_app: Any) -> None:
    tokens = auth.register()
    header, payload, signature = _parts(tokens["access_token"])
    alg_none = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({**payload, 'role': 'admin'})}."
    tampered = f"{_b64(header)}.{_b64({**payload, 'role': 'admin'})}.{signature}"
    expired_app = make_app(ACCESS_TOKEN_TTL=1)
    with expired_app.app_context():
        from marketplace.auth.tokens import issue_access_token
        expired = issue_access_token(tokens["user"])
    time.sleep(2.1)
    cases = {
        "unauthorized": [
            {}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"},
            bearer("garbage"), bearer("a.b.c"), bearer(alg_none), bearer(tampered),
            bearer(tokens["refresh_token"]),
        ],
        "token_expired": [bearer(expired)],
    }
    for code, headers_list in cases.items():
        for headers in headers_list:
            response = client.get("/api/v1/auth/me", headers=headers)
            assert response.status_code == 401, (headers, response.json)
            assert response.json["code"] == code, (headers, response.json)
            assert response.json["success"] is False
    assert client.get("/api/v1/auth/me", headers=tokens["headers"]).status_code == 200


def test_refresh_issues_an_access_token(auth: Any, client: Any) -> None:
    tokens = auth.register(role="agent")
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
    assert refreshed.status_code == 200, refreshed.json
    assert set(refreshed.json) == {"success", "access_token"}
    me = client.get("/api/v1/auth/me", headers=bearer(refreshed.json["access_token"]))
    assert me.json["user"]["role"] == "agent"
    access_as_refresh = client.post("/api/v1/auth/refresh", headers=tokens["headers"])
    assert access_as_refresh.status_code == 401
    assert client.post("/api/v1/auth/refresh").json["code"] == "unauthorized"


def test_user_cache_holds_no_password_hash_and_is_invalidated(auth: Any, client: Any,
                                                               redis: Any, app: Any) -> None:
    tokens = auth.register(email="grace@example.com")
    user_id = tokens["user"]["id"]
    assert client.get("/api/v1/auth/me", headers=tokens["headers"]).status_code == 200
    cached = orjson.loads(redis.get(user_key(user_id)))
    # The record (the public fields and the token version) and the users generation it was
    # read at; never the hash.
    assert cached.pop("gen") >= 0 and cached.pop("token_version") == 0
    assert cached == tokens["user"]
    assert 0 < redis.ttl(user_key(user_id)) <= 300
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-admin", "grace@example.com", "--name", "Grace",
                                 "--password", "another-horse-9"])
    assert result.exit_code == 0, result.output
    assert "promoted" in result.output
    assert redis.get(user_key(user_id)) is None
    # The promotion ended the tokens issued before it; a new login sees the admin.
    assert client.get("/api/v1/auth/me", headers=tokens["headers"]).status_code == 401
    login = client.post("/api/v1/auth/login", json={"email": "grace@example.com",
                                                    "password": "another-horse-9"})
    me = client.get("/api/v1/auth/me",
                    headers={"Authorization": f"Bearer {login.json['access_token']}"})
    assert me.json["user"]["role"] == "admin" and me.json["user"]["name"] == "Grace"


def test_create_admin_creates_and_prompts(app: Any, client: Any) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-admin", "Root@Example.com", "--name", "Root"],
                           input="admin-pass-123\nadmin-pass-123\n")
    assert result.exit_code == 0, result.output
    assert "created admin root@example.com" in result.output
    admin = login(client, "root@example.com", "admin-pass-123")
    assert admin.status_code == 200 and admin.json["user"]["role"] == "admin"
    bad = runner.invoke(args=["create-admin", "x@example.com", "--name", "X",
                              "--password", "short"])
    assert bad.exit_code != 0


def test_login_and_requests_mark_presence(auth: Any, client: Any, redis: Any, app: Any) -> None:
    register(client, email="pres@example.com")
    user_id = login(client, "pres@example.com").json["user"]["id"]
    assert redis.zscore(keys.ACTIVE_USERS, user_id) is not None
    assert 0 < redis.ttl(keys.ACTIVE_USERS) <= 900
    other = auth.register()
    client.get("/api/v1/auth/me", headers=other["headers"])
    with app.app_context():
        assert presence.count_active() == 2
    # A stale member falls out of the window; counting never scans the keyspace.
    redis.zadd(keys.ACTIVE_USERS, {"ghost": time.time() - 10_000})
    with app.app_context():
        assert presence.count_active() == 2


def test_presence_is_throttled_per_process(auth: Any, client: Any, redis: Any) -> None:
    tokens = auth.register()
    user_id = tokens["user"]["id"]
    client.get("/api/v1/auth/me", headers=tokens["headers"])
    first = redis.zscore(keys.ACTIVE_USERS, user_id)
    redis.zadd(keys.ACTIVE_USERS, {user_id: 1.0})  # would be overwritten by a write
    for _ in range(5):
        client.get("/api/v1/auth/me", headers=tokens["headers"])
    assert first is not None
    assert redis.zscore(keys.ACTIVE_USERS, user_id) == 1.0


def test_token_requests_create_no_session(auth: Any, client: Any, redis: Any) -> None:
    headers = auth.headers()
    for _ in range(3):
        response = client.get("/api/v1/auth/me", headers=headers)
        assert "Set-Cookie" not in response.headers
    client.get("/api/v1/health")
    assert list(redis.scan_iter("session:*")) == []
