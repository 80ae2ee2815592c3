"""Health routes, with Redis and PostgreSQL really stopped and restarted under the same app."""
import time


def timed_get(client, path):
    start = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - start


def test_all_up(client, redis):
    assert client.get("/api/v1/health").get_json()["status"] == "ok"
    body = client.get("/api/v1/health/redis").get_json()
    assert body["status"] == "connected" and body["latency_ms"] >= 0
    assert body["timestamp"].endswith("Z")
    assert client.get("/api/v1/health/db").get_json()["status"] == "connected"
    assert client.get("/api/v1/health/ready").get_json()["status"] == "ok"
    assert not [k for k in redis.scan_iter() if k.startswith(b"session:")]


def test_redis_stopped_then_restarted(make_app, db, private_redis, caplog):
    client = make_app(REDIS_URL=private_redis.url).test_client()
    assert client.get("/api/v1/health/redis").status_code == 200
    private_redis.stop()

    caplog.set_level("WARNING", logger="marketplace.redis")
    for _ in range(5):
        response, elapsed = timed_get(client, "/api/v1/health/redis")
        assert response.status_code == 503 and elapsed < 1.0
        assert response.get_json()["status"] == "disconnected"
    ready = client.get("/api/v1/health/ready")
    assert ready.status_code == 200 and ready.get_json()["status"] == "degraded"
    assert client.get("/api/v1/health").status_code == 200
    outage_logs = [r for r in caplog.records
                   if r.name == "marketplace.redis" and "unavailable" in r.getMessage()]
    assert len(outage_logs) == 1  # logged when it starts, not once per request

    private_redis.restart()
    deadline = time.monotonic() + 5
    while client.get("/api/v1/health/redis").status_code != 200:
        assert time.monotonic() < deadline, "no recovery within 5 s"
        time.sleep(0.1)
    assert client.get("/api/v1/health/ready").get_json()["status"] == "ok"
    assert any("available again" in r.getMessage() for r in caplog.records)


def test_redis_frozen_answers_within_a_second(make_app, db, private_redis):
    client = make_app(REDIS_URL=private_redis.url).test_client()
    assert client.get("/api/v1/health/redis").status_code == 200
    private_redis.freeze()
    try:
        for path in ["/api/v1/health/redis", "/api/v1/health/ready", "/api/v1/health/redis"]:
            response, elapsed = timed_get(client, path)
            assert response.status_code in (200, 503) and elapsed < 1.5
        assert client.get("/api/v1/health/redis").status_code == 503
    finally:
        private_redis.thaw()
    deadline = time.monotonic() + 5
    while client.get("/api/v1/health/redis").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_postgres_stopped_then_restarted(make_app, private_postgres):
    client = make_app(DATABASE_URL=private_postgres.url).test_client()
    assert client.get("/api/v1/health/db").status_code == 200
    private_postgres.stop()
    for path in ["/api/v1/health/db", "/api/v1/health/ready"]:
        response, elapsed = timed_get(client, path)
        assert response.status_code == 503 and elapsed < 1.5
        body = response.get_json()
        assert body["success"] is False and body["error"]
    assert client.get("/api/v1/health").status_code == 200
    private_postgres.start()
    deadline = time.monotonic() + 10
    while client.get("/api/v1/health/ready").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert client.get("/api/v1/health/db").status_code == 200


def test_postgres_frozen_health_answers_within_a_second(make_app, private_postgres):
    client = make_app(DATABASE_URL=private_postgres.url).test_client()
    assert client.get("/api/v1/health/db").status_code == 200
    private_postgres.freeze()
    try:
        response, elapsed = timed_get(client, "/api/v1/health/db")
        assert response.status_code == 503 and elapsed < 1.5
    finally:
        private_postgres.thaw()
    assert client.get("/api/v1/health/db").status_code == 200


def test_health_is_never_rate_limited_and_writes_no_session(make_app, db, redis):
    client = make_app(PROJECTS_RATE_LIMIT="1 per hour", AUTH_RATE_LIMIT="1 per hour").test_client()
    client.set_cookie("session", "made-up-session-id")
    statuses = {client.get(path).status_code
                for path in ["/api/v1/health", "/api/v1/health/redis", "/api/v1/health/db",
                             "/api/v1/health/ready"] * 25}
    assert statuses == {200}
    assert not [k for k in redis.scan_iter() if k.startswith((b"session:", b"rate-limit:"))]
