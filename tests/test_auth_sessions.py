"""Server-side sessions: created at login with a fresh id, GET/HEAD only, gone at logout."""
from __future__ import annotations

import time
from typing import Any

import msgspec

from marketplace.auth.guards import require_user
from marketplace.http import ok
from tests.plugins.auth import DEFAULT_PASSWORD, bearer, login


def session_cookie(response: Any) -> str:
    cookie = response.headers["Set-Cookie"]
    return cookie.split(";", 1)[0].split("=", 1)[1]


def add_write_route(app: Any) -> None:
    """A data-changing route guarded like the projects blueprint's POST."""
    @require_user("client", "admin")
    def create() -> Any:
        return ok(201)

    app.add_url_rule("/test-only/write", "test_write", create, methods=["POST"])


def test_login_creates_a_session_with_safe_cookie_flags(auth: Any, client: Any,
                                                        redis: Any) -> None:
    user = auth.register()
    response = login(client, user["user"]["email"])
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    sid = session_cookie(response)
    stored = msgspec.msgpack.decode(redis.get(f"session:{sid}"))
    assert stored["user_id"] == user["user"]["id"]
    assert abs(stored["login_at"] - time.time()) < 60
    assert 86_000 < redis.ttl(f"session:{sid}") <= 86_400


def test_login_with_an_existing_session_gets_a_new_id(auth: Any, client: Any, redis: Any) -> None:
    user = auth.register()
    first = session_cookie(login(client, user["user"]["email"]))
    second_response = login(client, user["user"]["email"])  # the client sends `first`
    second = session_cookie(second_response)
    assert second != first
    assert redis.exists(f"session:{first}") == 0 and redis.exists(f"session:{second}") == 1
    stale = client.application.test_client()
    stale.set_cookie("session", first)
    assert stale.get("/api/v1/auth/me").status_code == 401


def test_a_planted_session_id_is_not_adopted(auth: Any, client: Any, redis: Any) -> None:
    user = auth.register()
    client.set_cookie("session", "attacker-chosen-id")
    sid = session_cookie(login(client, user["user"]["email"]))
    assert sid != "attacker-chosen-id"
    assert redis.exists("session:attacker-chosen-id") == 0


def test_cookie_authenticates_reads_only(auth: Any, app: Any, redis: Any) -> None:
    add_write_route(app)
    client = app.test_client()
    user = auth.register()
    login(client, user["user"]["email"])
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json["user"] == user["user"]
    assert client.head("/api/v1/auth/me").status_code == 200
    for path in ("/test-only/write", "/api/v1/auth/logout"):
        refused = client.post(path)
        assert refused.status_code == 401 and refused.json["code"] == "unauthorized"
    assert client.post("/test-only/write", headers=user["headers"]).status_code == 201
    assert client.post("/test-only/write", headers=auth.headers("agent")).status_code == 403


def test_cookie_cannot_create_a_project(auth: Any, client: Any) -> None:
    user = auth.register()
    login(client, user["user"]["email"])
    response = client.post("/api/v1/projects", json={"title": "A project", "description": "x",
                                                     "budget": 100})
    assert response.status_code == 401 and response.json["code"] == "unauthorized"


def test_logout_destroys_the_session(auth: Any, client: Any, redis: Any) -> None:
    user = auth.register()
    response = login(client, user["user"]["email"])
    sid = session_cookie(response)
    headers = bearer(response.json["access_token"])
    out = client.post("/api/v1/auth/logout", headers=headers)
    assert out.status_code == 200
    assert "session=;" in out.headers["Set-Cookie"]
    assert redis.exists(f"session:{sid}") == 0
    assert client.get("/api/v1/auth/me").status_code == 401


def test_production_cookie_is_secure(auth: Any, make_app: Any, db: Any, redis: Any) -> None:
    app = make_app(APP_ENV="production")
    user = auth.register()
    response = login(app.test_client(), user["user"]["email"])
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_redis_down_login_works_without_a_cookie(auth: Any, make_app: Any, db: Any,
                                                 private_redis: Any) -> None:
    app = make_app(REDIS_URL=private_redis.url)
    client = app.test_client()
    user = auth.register()
    with_cookie = login(client, user["user"]["email"])
    assert with_cookie.status_code == 200 and "Set-Cookie" in with_cookie.headers
    private_redis.stop()

    response = login(client, user["user"]["email"])  # carries the old cookie too
    assert response.status_code == 200 and response.json["access_token"]
    assert "Set-Cookie" not in response.headers or "session=;" in response.headers["Set-Cookie"]
    headers = bearer(response.json["access_token"])
    me = client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200 and me.json["user"] == user["user"]
    assert client.get("/api/v1/auth/me").status_code == 401  # cookie treated as absent
    registered = client.post("/api/v1/auth/register", json={
        "email": "new@example.com", "password": DEFAULT_PASSWORD, "name": "New"})
    assert registered.status_code == 201
    refreshed = client.post("/api/v1/auth/refresh",
                            headers=bearer(user["refresh_token"]))
    assert refreshed.status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 200
    assert client.get("/api/v1/auth/me", headers=headers).json["code"] == "token_revoked"
