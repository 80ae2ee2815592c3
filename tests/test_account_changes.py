"""Tokens end when the account changes: a password change, a reset, a change of role, the
removal of the account (by the command or straight in the database)."""
from __future__ import annotations

import time
from typing import Any

from tests.plugins.auth import DEFAULT_PASSWORD

API = "/api/v1"
NEW_PASSWORD = "a-brand-new-horse-7"


def _wait_until_known(app: Any, name: str, db: Any) -> None:
    """Until the app's processes heard (NOTIFY) of the latest `name` generation."""
    with db.cursor() as cur:
        cur.execute("SELECT value FROM cache_generations WHERE name = %s", (name,))
        target = cur.fetchone()[0]
    deadline = time.monotonic() + 5
    while app.extensions["generations"].required(name) < target:
        assert time.monotonic() < deadline, f"{name} generation {target} never heard of"
        time.sleep(0.02)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: Any, email: str, password: str = DEFAULT_PASSWORD) -> Any:
    return client.post(f"{API}/auth/login", json={"email": email, "password": password})


def me(client: Any, token: str | None = None) -> Any:
    return client.get(f"{API}/auth/me", headers=bearer(token) if token else {})


def refresh(client: Any, token: str) -> Any:
    return client.post(f"{API}/auth/refresh", headers=bearer(token))


def change_password(client: Any, token: str, current: str, new: str = NEW_PASSWORD) -> Any:
    return client.post(f"{API}/auth/password", headers=bearer(token),
                       json={"current_password": current, "new_password": new})


def test_a_password_change_ends_every_earlier_token_and_session(auth: Any, make_app: Any,
                                                               db: Any, redis: Any) -> None:
    app = make_app(AUTH_RATE_LIMIT="100 per minute")
    user = type(auth)(app).register()
    email = user["user"]["email"]
    browser = app.test_client()
    session_login = login(browser, email)
    assert session_login.status_code == 200 and me(browser).status_code == 200  # cookie
    other = app.test_client()

    changed = change_password(other, user["access_token"], DEFAULT_PASSWORD)
    assert changed.status_code == 200, changed.json
    assert set(changed.json) == {"success", "access_token", "refresh_token"}
    assert changed.headers["Cache-Control"] == "no-store"

    for token in (user["access_token"], session_login.json["access_token"]):
        ended = me(other, token)
        assert ended.status_code == 401 and ended.json["code"] == "token_revoked", ended.json
    for token in (user["refresh_token"], session_login.json["refresh_token"]):
        assert refresh(other, token).status_code == 401
    assert me(browser).status_code == 401  # the session made before the change
    assert me(other, changed.json["access_token"]).status_code == 200
    assert refresh(other, changed.json["refresh_token"]).status_code == 200
    assert login(other, email).status_code == 401
    assert login(other, email, NEW_PASSWORD).status_code == 200


def test_a_wrong_current_password_counts_like_a_failed_login(auth: Any, make_app: Any,
                                                             db: Any, redis: Any) -> None:
    app = make_app(LOGIN_FAILURE_LIMIT="2 per 15 minutes", AUTH_RATE_LIMIT="100 per minute")
    client = app.test_client()
    user = type(auth)(app).register()
    for _ in range(2):
        wrong = change_password(client, user["access_token"], "not-my-password")
        assert wrong.status_code == 401 and wrong.json["code"] == "invalid_credentials"
    # The account's failure budget is spent: the right password is refused too, and so is a
    # login of that account from anywhere.
    assert change_password(client, user["access_token"], DEFAULT_PASSWORD).status_code == 429
    assert login(client, user["user"]["email"]).status_code == 429
    assert me(client, user["access_token"]).status_code == 200  # nothing changed


def test_the_new_password_follows_the_register_rules(auth: Any, client: Any) -> None:
    user = auth.register()
    short = change_password(client, user["access_token"], DEFAULT_PASSWORD, "short")
    assert short.status_code == 422 and "new_password" in short.json["details"]
    nul = change_password(client, user["access_token"], DEFAULT_PASSWORD, "abc\x00defghij")
    assert nul.status_code == 422 and "new_password" in nul.json["details"]
    extra = client.post(f"{API}/auth/password", headers=bearer(user["access_token"]),
                        json={"current_password": DEFAULT_PASSWORD,
                              "new_password": NEW_PASSWORD, "role": "admin"})
    assert extra.status_code == 422 and "role" in extra.json["details"]
    anonymous = client.post(f"{API}/auth/password",
                            json={"current_password": DEFAULT_PASSWORD,
                                  "new_password": NEW_PASSWORD})
    assert anonymous.status_code == 401
    assert me(client, user["access_token"]).status_code == 200  # nothing changed


def test_a_reset_and_a_change_of_role_end_old_refresh_tokens(auth: Any, app: Any,
                                                             client: Any) -> None:
    """Today's hole: an old refresh token survived a reset and came back with the new role."""
    user = auth.register()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-admin", user["user"]["email"], "--name", "Promoted",
                                 "--password", NEW_PASSWORD])
    assert result.exit_code == 0 and "promoted" in result.output, result.output
    stale = refresh(client, user["refresh_token"])
    assert stale.status_code == 401 and stale.json["code"] == "token_revoked"
    assert me(client, user["access_token"]).status_code == 401
    fresh = login(client, user["user"]["email"], NEW_PASSWORD)
    assert fresh.status_code == 200 and fresh.json["user"]["role"] == "admin"


def test_a_name_alone_changes_no_token(auth: Any, app: Any, client: Any) -> None:
    """An admin renamed by the start-up bootstrap (same password) keeps its tokens."""
    admin = auth.register("admin")
    with app.app_context():
        from marketplace.auth import users

        users.create_or_promote_admin(admin["user"]["email"], "Renamed", None)
    answer = me(client, admin["access_token"])
    assert answer.status_code == 200 and answer.json["user"]["name"] == "Renamed"


def test_delete_user_removes_the_account_and_what_it_owns(auth: Any, app: Any,
                                                          client: Any) -> None:
    owner, agent, other_owner = auth.register(), auth.register("agent"), auth.register()
    project = client.post(f"{API}/projects", headers=owner["headers"], json={
        "title": "Owned by the leaver", "budget": 100}).json["project"]["id"]
    elsewhere = client.post(f"{API}/projects", headers=other_owner["headers"], json={
        "title": "Stays", "budget": 100}).json["project"]["id"]
    for pid in (project, elsewhere):
        assert client.post(f"{API}/projects/{pid}/proposals", headers=agent["headers"],
                           json={"cover_letter": "me", "bid_amount": 90}).status_code == 201
    for _ in range(2):  # cached detail and list
        assert client.get(f"{API}/projects/{elsewhere}").json["project"]["proposal_count"] == 1
        assert client.get(f"{API}/projects/{project}").status_code == 200
        assert client.get(f"{API}/projects").json["pagination"]["total"] == 2
    assert me(client, agent["access_token"]).status_code == 200  # user record cached

    runner = app.test_cli_runner()
    result = runner.invoke(args=["delete-user", agent["user"]["email"], "--yes"])
    assert result.exit_code == 0, result.output
    assert "0 project(s) and 2 proposal(s)" in result.output
    assert me(client, agent["access_token"]).status_code == 401
    assert client.post(f"{API}/projects/{project}/proposals", headers=agent["headers"],
                       json={"cover_letter": "again", "bid_amount": 90}).status_code == 401
    detail = client.get(f"{API}/projects/{elsewhere}")
    assert detail.json["project"]["proposal_count"] == 0 and detail.headers["X-Cache"] == "MISS"

    result = runner.invoke(args=["delete-user", owner["user"]["email"], "--yes"])
    assert result.exit_code == 0 and "1 project(s)" in result.output, result.output
    assert client.get(f"{API}/projects/{project}").status_code == 404
    assert client.get(f"{API}/projects").json["pagination"]["total"] == 1
    assert login(client, owner["user"]["email"]).status_code == 401
    missing = runner.invoke(args=["delete-user", owner["user"]["email"], "--yes"])
    assert missing.exit_code != 0 and "no account" in missing.output


def test_a_user_removed_straight_in_the_database_gets_401_never_500(
        auth: Any, client: Any, db: Any, app: Any) -> None:
    user = auth.register()
    assert me(client, user["access_token"]).status_code == 200  # cached in Redis
    with db.cursor() as cur:
        cur.execute("DELETE FROM users WHERE id = %s", (user["user"]["id"],))
    _wait_until_known(app, "users", db)
    assert me(client, user["access_token"]).status_code == 401
    create = client.post(f"{API}/projects", headers=user["headers"],
                         json={"title": "Orphan", "budget": 10})
    assert create.status_code == 401
    assert refresh(client, user["refresh_token"]).status_code == 401


def test_a_token_is_verified_once_and_still_ends_with_its_account(
        auth: Any, app: Any, client: Any, monkeypatch: Any) -> None:
    """The signature of a token is checked once per process (its claims are remembered until
    it expires); revocation and the account's token version are still checked every time."""
    import jwt

    from marketplace.auth import tokens

    decoded: list[str] = []
    real_decode = jwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(tokens.jwt, "decode", counting_decode)
    first, second = auth.register(), auth.register()
    for _ in range(3):
        assert me(client, first["access_token"]).status_code == 200
        assert me(client, second["access_token"]).status_code == 200
    assert decoded.count(first["access_token"]) == 1
    assert decoded.count(second["access_token"]) == 1

    assert client.post(f"{API}/auth/logout", headers=first["headers"]).status_code == 200
    revoked = me(client, first["access_token"])
    assert revoked.status_code == 401 and revoked.json["code"] == "token_revoked"
    assert change_password(client, second["access_token"], DEFAULT_PASSWORD).status_code == 200
    ended = me(client, second["access_token"])
    assert ended.status_code == 401 and ended.json["code"] == "token_revoked"
    tampered = second["access_token"][:-2] + ("AA" if second["access_token"][-2:] != "AA"
                                              else "BB")
    assert me(client, tampered).status_code == 401
