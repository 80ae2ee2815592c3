"""Sessions end SESSION_LIFETIME after login however often they are used: the Redis key's
TTL, the cookie's expiry and the check when a session is opened all count from `login_at`."""
from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any

import msgspec

from tests.plugins.auth import DEFAULT_PASSWORD, AuthActions

LIFETIME = 4
ME = "/api/v1/auth/me"


def login(client: Any, email: str) -> Any:
    response = client.post("/api/v1/auth/login",
                           json={"email": email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    return response


def cookie_attributes(response: Any) -> tuple[str, dict[str, str]]:
    sid, *attributes = response.headers["Set-Cookie"].split("; ")
    return sid.split("=", 1)[1], dict(a.split("=", 1) for a in attributes if "=" in a)


def test_using_a_session_does_not_extend_it(make_app: Any, db: Any, redis: Any) -> None:
    app = make_app(SESSION_LIFETIME=LIFETIME)
    client = app.test_client()
    user = AuthActions(app).register()
    sid, attributes = cookie_attributes(login(client, user["user"]["email"]))
    key = f"session:{sid}"
    login_at = msgspec.msgpack.decode(redis.get(key))["login_at"]
    deadline = login_at + LIFETIME
    assert parsedate_to_datetime(attributes["Expires"]).timestamp() == deadline

    uses = 0
    while time.time() < deadline - 0.6:
        me = client.get(ME)
        assert me.status_code == 200 and me.json["user"]["id"] == user["user"]["id"]
        assert "Set-Cookie" not in me.headers  # the cookie's expiry is not moved either
        bound = (deadline - time.time()) * 1000 + 5
        assert 0 < redis.pttl(key) <= bound  # the key's TTL was not renewed
        uses += 1
        time.sleep(0.25)
    assert uses >= 3

    time.sleep(max(0.0, deadline - time.time()) + 0.05)
    assert client.get(ME).status_code == 401  # the browser still sends the cookie
    assert redis.exists(key) == 0


def test_a_stored_session_past_its_lifetime_is_ignored(make_app: Any, db: Any,
                                                       redis: Any) -> None:
    """A key whose TTL was refreshed (by an earlier version) outlives its login: the check
    at open refuses it all the same."""
    app = make_app(SESSION_LIFETIME=LIFETIME)
    user = AuthActions(app).register()
    client = app.test_client()
    sid, _ = cookie_attributes(login(client, user["user"]["email"]))
    key = f"session:{sid}"
    stored = msgspec.msgpack.decode(redis.get(key))
    stored["login_at"] -= LIFETIME + 1
    redis.set(key, msgspec.msgpack.encode(stored), ex=3600)
    assert client.get(ME).status_code == 401
    del stored["login_at"]  # not made by a login at all
    redis.set(key, msgspec.msgpack.encode(stored), ex=3600)
    assert client.get(ME).status_code == 401
