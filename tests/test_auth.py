"""Accounts: register → login → me, validation, conflicts, the auth fixture."""
from __future__ import annotations

from typing import Any


def register(client: Any, **fields: Any) -> Any:
    body = {"email": "ada@example.com", "password": "correct-horse-9", "name": "Ada", **fields}
    return client.post("/api/v1/auth/register", json=body)


def test_register_login_me_round_trip(client: Any) -> None:
    created = register(client, email="  Ada@Example.COM ")
    assert created.status_code == 201, created.json
    body = created.json
    assert body["success"] is True
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["role"] == "client"
    assert set(body["user"]) == {"id", "email", "name", "role", "created_at"}
    assert body["access_token"] and body["refresh_token"]

    login = client.post("/api/v1/auth/login",
                        json={"email": "ADA@example.com", "password": "correct-horse-9"})
    assert login.status_code == 200, login.json
    token = login.json["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.json
    assert me.json == {"success": True, "user": body["user"]}


def test_auth_fixture(auth: Any, client: Any) -> None:
    admin = auth.register(role="admin")
    assert admin["user"]["role"] == "admin"
    me = client.get("/api/v1/auth/me", headers=admin["headers"])
    assert me.status_code == 200 and me.json["user"]["role"] == "admin"
    agent = client.get("/api/v1/auth/me", headers=auth.headers("agent"))
    assert agent.json["user"]["role"] == "agent"
