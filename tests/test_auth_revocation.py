"""Logout revokes a token everywhere: other instances, after FLUSHDB, eviction, Redis down."""
from __future__ import annotations

import time
from typing import Any

import redis as redis_lib

from marketplace.keys import REVOKED, REVOKED_BUCKET_SECONDS, REVOKED_EXPIRY_MARGIN
from scripts.processes import PrivateRedis, redis_command_calls
from tests.helpers import SMALL_LRU
from tests.plugins.auth import bearer


def me(client: Any, headers: dict[str, str]) -> Any:
    return client.get("/api/v1/auth/me", headers=headers)


def _bucket_keys(redis: Any) -> list[bytes]:
    keys = redis.scan_iter(f"{REVOKED}*")
    return [k for k in keys if not k.endswith(b"rebuild")]


def test_logout_revokes_on_a_second_instance_and_survives_flushdb(
        auth: Any, client: Any, make_app: Any, redis: Any, db: Any) -> None:
    user = auth.register()
    other_token = auth.register(email=user["user"]["email"].replace("@", "+x@"))["headers"]
    second = make_app().test_client()
    assert me(second, user["headers"]).status_code == 200  # builds the bucket on instance 2

    response = client.post("/api/v1/auth/logout", headers=user["headers"])
    assert response.status_code == 200 and response.json == {"success": True}

    for instance in (client, second):
        revoked = me(instance, user["headers"])
        assert revoked.status_code == 401 and revoked.json["code"] == "token_revoked"
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM revoked_tokens")
        assert cur.fetchone()[0] == 1

    keys = _bucket_keys(redis)
    assert len(keys) == 1
    ttl = redis.ttl(keys[0])
    # Until the last token of the token's expiry hour has expired (plus a margin).
    assert 900 < ttl <= 900 + REVOKED_BUCKET_SECONDS + REVOKED_EXPIRY_MARGIN

    redis.flushdb()
    for instance in (second, client):
        assert me(instance, user["headers"]).json["code"] == "token_revoked"
    assert me(client, other_token).status_code == 200
    # The rebuilt bucket carries its completeness marker again.
    assert redis.hget(_bucket_keys(redis)[0], "_gen") is not None


def test_a_refresh_token_of_the_same_user_keeps_working(auth: Any, client: Any) -> None:
    user = auth.register()
    client.post("/api/v1/auth/logout", headers=user["headers"])
    refreshed = client.post("/api/v1/auth/refresh",
                            headers=bearer(user["refresh_token"]))
    assert refreshed.status_code == 200
    fresh = bearer(refreshed.json["access_token"])
    assert me(client, fresh).status_code == 200


def test_normal_case_is_one_redis_round_trip_and_no_query(auth: Any, client: Any,
                                                          app: Any) -> None:
    user = auth.register()
    assert me(client, user["headers"]).status_code == 200  # bucket built, user cached
    assert me(client, user["headers"]).status_code == 200  # presence already marked
    pool = app.extensions["database"]
    before_queries = pool.queries
    server = redis_lib.Redis.from_url(app.config["REDIS_URL"])
    before = redis_command_calls(server)
    assert me(client, user["headers"]).status_code == 200
    after = redis_command_calls(server)
    assert pool.queries == before_queries
    # HMGET + GET pipelined on /me. Commandstats are server-wide (other suites share the
    # server), so only check that the request read the bucket without touching PostgreSQL.
    assert after["hmget"] > before["hmget"]
    assert sum(after.values()) - sum(before.values()) >= 2


def test_a_missed_revocation_is_not_trusted(auth: Any, client: Any, make_app: Any,
                                            redis: Any) -> None:
    """A bucket built before a logout Redis never heard of is rebuilt, not believed."""
    user = auth.register()
    assert me(client, user["headers"]).status_code == 200  # bucket complete at generation G
    key = _bucket_keys(redis)[0]
    built_at = int(redis.hget(key, "_gen"))
    second = make_app().test_client()
    # Simulate a logout whose HSET never reached Redis: the bump alone must suffice.
    real_client = None
    second_app = second.application
    with second_app.app_context():
        from marketplace.extensions import redis_store
        real_client = redis_store.handle.client
        redis_store.handle.client = redis_lib.Redis(host="127.0.0.1", port=1, socket_timeout=0.1)
    try:
        assert second.post("/api/v1/auth/logout", headers=user["headers"]).status_code == 200
    finally:
        second_app.extensions["redis"].client = real_client
    assert int(redis.hget(key, "_gen")) == built_at and redis.hget(key, "x") is None
    deadline = time.monotonic() + 5
    while client.application.extensions["generations"].required("revoked_tokens") <= built_at:
        assert time.monotonic() < deadline, "NOTIFY never arrived"
        time.sleep(0.05)
    assert me(client, user["headers"]).json["code"] == "token_revoked"
    assert int(redis.hget(key, "_gen")) > built_at


def test_revoked_while_redis_is_stopped_and_after_restart(auth: Any, make_app: Any, db: Any,
                                                          private_redis: Any) -> None:
    app = make_app(REDIS_URL=private_redis.url)
    client = app.test_client()
    user = auth.register()
    keep = auth.register()
    assert me(client, user["headers"]).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=user["headers"]).status_code == 200
    private_redis.stop()
    for _ in range(3):
        assert me(client, user["headers"]).json["code"] == "token_revoked"
        assert me(client, keep["headers"]).status_code == 200
    # A logout while Redis is down is durable too.
    assert client.post("/api/v1/auth/logout", headers=keep["headers"]).status_code == 200
    private_redis.start()  # a memory-only instance comes back empty
    time.sleep(app.config["REDIS_PROBE_INTERVAL"] + 0.1)
    for _ in range(3):
        assert me(client, user["headers"]).json["code"] == "token_revoked"
        assert me(client, keep["headers"]).json["code"] == "token_revoked"


def test_revoked_stays_revoked_under_lru_eviction(auth: Any, make_app: Any, db: Any,
                                                  tmp_path: Any) -> None:
    with PrivateRedis(tmp_path / "lru", extra_args=SMALL_LRU) as server:
        app = make_app(REDIS_URL=server.url)
        client = app.test_client()
        user = auth.register()
        assert client.post("/api/v1/auth/logout", headers=user["headers"]).status_code == 200
        assert me(client, user["headers"]).json["code"] == "token_revoked"
        raw = redis_lib.Redis.from_url(server.url)
        filler = "v" * 1000
        for start in range(0, 6000, 500):  # far more than 2 MB: the bucket gets evicted
            pipe = raw.pipeline(transaction=False)
            for i in range(start, start + 500):
                pipe.set(f"temp:fill:{i}", filler, ex=600)
            pipe.execute()
            assert me(client, user["headers"]).json["code"] == "token_revoked"
        assert raw.info("stats")["evicted_keys"] > 0
        raw.close()


def test_logout_with_the_refresh_token_revokes_both(client, auth):
    user = auth.register()
    other = auth.register()
    response = client.post("/api/v1/auth/logout", headers=user["headers"],
                           json={"refresh_token": user["refresh_token"]})
    assert response.status_code == 200
    refreshed = client.post("/api/v1/auth/refresh",
                            headers=bearer(user["refresh_token"]))
    assert refreshed.status_code == 401 and refreshed.get_json()["code"] == "token_revoked"
    # a token that is not the caller's refresh token is an invalid credential (401), and
    # nothing is revoked
    response = client.post("/api/v1/auth/logout", headers=other["headers"],
                           json={"refresh_token": user["access_token"]})
    assert response.status_code == 401 and response.get_json()["code"] == "unauthorized"
    assert client.get("/api/v1/auth/me", headers=other["headers"]).status_code == 200
