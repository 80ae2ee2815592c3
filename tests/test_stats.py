"""Stats routes: online presence (cost independent of the keyspace, 503 without Redis) and
the summary (PostgreSQL counts, cached 60 s)."""
from __future__ import annotations

from typing import Any

import redis as redis_lib

from marketplace import metrics
from scripts.processes import redis_command_calls
from tests.plugins.auth import AuthActions, login
from tests.plugins.projects import make_project, make_user

ONLINE = "/api/v1/stats/online"
SUMMARY = "/api/v1/stats/summary"


def _login(client: Any, user: dict[str, Any]) -> None:
    response = login(client, user["email"])
    assert response.status_code == 200, response.json


def _commands_of(server: redis_lib.Redis, request: Any) -> dict[str, int]:
    """Redis commands one request sends (the snapshot's own INFO cancels out in comparisons)."""
    before = redis_command_calls(server)
    request()
    after = redis_command_calls(server)
    return {name: calls - before.get(name, 0) for name, calls in after.items()
            if calls != before.get(name, 0)}


def test_three_users_logged_in_are_online_and_a_second_login_counts_once(
        auth: Any, client: Any) -> None:
    users = [auth.register()["user"] for _ in range(3)]
    for user in users:
        _login(client, user)
    response = client.get(ONLINE)
    assert response.status_code == 200
    assert response.json == {"success": True, "onlineUsers": 3}

    _login(client, users[0])
    assert client.get(ONLINE).json["onlineUsers"] == 3


def test_authenticated_requests_keep_a_user_online_and_the_window_applies(
        make_app: Any, db: Any, redis: Any) -> None:
    app = make_app(ACTIVE_USER_WINDOW=2)
    client = app.test_client()
    headers = AuthActions(app).headers()
    assert client.get(ONLINE).json["onlineUsers"] == 0
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    assert client.get(ONLINE).json["onlineUsers"] == 1
    ttl = redis.ttl("active:users")
    assert 0 < ttl <= 2


def test_online_costs_the_same_redis_commands_with_100000_unrelated_keys(
        make_app: Any, db: Any, private_redis: Any) -> None:
    app = make_app(REDIS_URL=private_redis.url)
    client = app.test_client()
    actions = AuthActions(app)
    for _ in range(3):
        _login(client, actions.register()["user"])
    server = redis_lib.Redis.from_url(private_redis.url)
    client = app.test_client()  # anonymous: no session cookie read or refreshed
    assert client.get(ONLINE).json["onlineUsers"] == 3  # warms the pool's connection
    with app.app_context():
        metrics.flush()  # no pending counters may flush during the measurement

    small = _commands_of(server, lambda: client.get(ONLINE))
    pipe = server.pipeline(transaction=False)
    for batch in range(100):
        pipe.mset({f"unrelated:{batch}:{i}": b"x" for i in range(1000)})
    pipe.execute()
    assert server.dbsize() >= 100_000
    response = None

    def call() -> None:
        nonlocal response
        response = client.get(ONLINE)

    large = _commands_of(server, call)
    assert response.json == {"success": True, "onlineUsers": 3}
    assert large == small
    assert small == {"zcount": 1, "info": 1}  # INFO: the first snapshot of the measurement
    assert not {"keys", "scan", "dbsize"} & small.keys()
    server.close()


def test_online_is_503_while_redis_is_down(make_app: Any, db: Any, private_redis: Any) -> None:
    app = make_app(REDIS_URL=private_redis.url)
    client = app.test_client()
    assert client.get(ONLINE).status_code == 200
    private_redis.stop()
    response = client.get(ONLINE)
    assert response.status_code == 503
    assert response.json["code"] == "service_unavailable"
    assert response.json["success"] is False
    private_redis.start()


def test_summary_counts_users_projects_by_status_and_proposals(
        client: Any, db: Any, redis: Any) -> None:
    owner = make_user(db)
    agent = make_user(db, "agent")
    open_id = make_project(db, owner)
    make_project(db, owner)
    make_project(db, owner, status="in_progress")
    make_project(db, owner, status="completed")
    with db.cursor() as cur:
        cur.execute("INSERT INTO proposals (project_id, agent_id, cover_letter, bid_amount) "
                    "VALUES (%s, %s, 'hello', 10)", (open_id, agent))

    response = client.get(SUMMARY)
    assert response.status_code == 200
    assert response.headers["X-Cache"] == "MISS"
    assert response.json == {
        "success": True, "users": 2,
        "projects": {"open": 2, "in_progress": 1, "completed": 1, "cancelled": 0},
        "proposals": 1,
    }
    ttl = redis.ttl("cache:/api/v1/stats/summary")
    assert 0 < ttl <= 60


def test_summary_is_served_from_the_cache_for_60_seconds(
        client: Any, db: Any, redis: Any) -> None:
    first = client.get(SUMMARY)
    assert first.json["users"] == 0
    make_user(db)  # a new user may show up to 60 s late (the contract's staleness)
    second = client.get(SUMMARY)
    assert second.headers["X-Cache"] == "HIT"
    assert second.json == first.json
    redis.delete("cache:/api/v1/stats/summary")  # as if the 60 s had passed
    third = client.get(SUMMARY)
    assert third.headers["X-Cache"] == "MISS"
    assert third.json["users"] == 1


def test_summary_is_stale_at_once_after_a_project_write(client: Any, auth: Any) -> None:
    headers = auth.headers("client")
    assert client.get(SUMMARY).json["projects"]["open"] == 0
    created = client.post("/api/v1/projects", headers=headers,
                          json={"title": "A project", "description": "d", "budget": 100})
    assert created.status_code == 201
    response = client.get(SUMMARY)
    assert response.headers["X-Cache"] == "MISS"
    assert response.json["projects"]["open"] == 1


def test_summary_answers_from_postgresql_while_redis_is_down(
        make_app: Any, db: Any, private_redis: Any) -> None:
    app = make_app(REDIS_URL=private_redis.url)
    client = app.test_client()
    make_user(db)
    private_redis.stop()
    response = client.get(SUMMARY)
    assert response.status_code == 200
    assert response.json["users"] == 1
    private_redis.start()
