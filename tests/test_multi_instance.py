"""Two gunicorn instances (two workers each) on one Redis and one PostgreSQL behave as one
service: limits counted once, caches coherent, revocations and sessions shared."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_lib

from scripts.processes import GunicornService, PrivateRedis, http
from tests.helpers import API, service_env
from tests.loadgen import Call, run, statuses
from tests.plugins.auth import DEFAULT_PASSWORD, LOGIN, AuthActions, bearer

LIMITS = {"AUTH_RATE_LIMIT": "5 per 15 minutes", "PROJECTS_RATE_LIMIT": "100 per 15 minutes"}
NEW = {"title": "Seen everywhere", "description": "written on one instance", "budget": 77}


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory: Any) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def instances(shared_redis: PrivateRedis, database_url: str,
              tmp_path_factory: Any) -> Iterator[tuple[GunicornService, GunicornService]]:
    env = service_env(database_url, shared_redis.url, **LIMITS)
    logs = tmp_path_factory.mktemp("logs")
    a = GunicornService(env, logs, workers=2, name="a").start()
    b = GunicornService(env, logs, workers=2, name="b").start()
    yield a, b
    a.stop()
    b.stop()
    for service in (a, b):
        assert "Traceback" not in service.log(), service.log()


@pytest.fixture
def admin(shared_redis: PrivateRedis, db: Any) -> Iterator[redis_lib.Redis]:
    """The shared private Redis, emptied before each test (limits start at zero)."""
    client = redis_lib.Redis.from_url(shared_redis.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def actions(make_app: Any, shared_redis: PrivateRedis, instances: Any,
            admin: redis_lib.Redis) -> AuthActions:
    """Users whose tokens both instances accept (same secrets as the services)."""
    env = instances[0].env
    return AuthActions(make_app(REDIS_URL=shared_redis.url, JWT_SECRET=env["JWT_SECRET"],
                                SESSION_SECRET=env["SESSION_SECRET"]))


def login(service: GunicornService, email: str) -> Any:
    return http("POST", service.url + LOGIN,
                body={"email": email, "password": DEFAULT_PASSWORD})


def test_auth_limit_counted_once_across_instances(instances: Any, actions: AuthActions) -> None:
    a, b = instances
    email = actions.register()["user"]["email"]
    answers = [login(service, email) for service in (a, a, a, b, b, b)]
    assert [r.status for r in answers] == [200] * 5 + [429]
    assert answers[-1].json()["code"] == "rate_limited"
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert login(a, email).status == 429  # and A knows it too


def test_write_on_one_is_visible_through_the_others_cache(instances: Any,
                                                         actions: AuthActions) -> None:
    a, b = instances
    headers = actions.headers("client")
    listing = f"{API}/projects?per_page=100"
    first = http("POST", f"{a.url}{API}/projects", headers=headers, body=NEW).json()["project"]
    detail = f"{API}/projects/{first['id']}"
    for service in (a, b):
        for _ in range(3):
            http("GET", service.url + listing)
            http("GET", service.url + detail)
    assert http("GET", b.url + listing).headers["X-Cache"] == "HIT"
    assert http("GET", b.url + detail).headers["X-Cache"] == "HIT"

    created = http("POST", f"{a.url}{API}/projects", headers=headers, body=NEW).json()
    for _ in range(4):  # at once, on both workers of B
        assert created["project"]["id"] in [
            p["id"] for p in http("GET", b.url + listing).json()["data"]]
    patched = http("PATCH", f"{b.url}{detail}", headers=headers, body={"budget": 78})
    assert patched.status == 200
    for _ in range(4):
        assert http("GET", a.url + detail).json()["project"]["budget"] == 78
    assert http("GET", a.url + detail).headers["X-Cache"] == "HIT"  # cached again, fresh


def test_logout_on_one_revokes_on_the_other(instances: Any, actions: AuthActions) -> None:
    a, b = instances
    user = actions.register()
    for _ in range(4):  # B's workers have checked (and cached) this token as valid
        assert http("GET", f"{b.url}{API}/auth/me", headers=user["headers"]).status == 200
    assert http("POST", f"{a.url}{API}/auth/logout", headers=user["headers"]).status == 200
    for service in (b, b, b, b, a):
        answer = http("GET", f"{service.url}{API}/auth/me", headers=user["headers"])
        assert answer.status == 401 and answer.json()["code"] == "token_revoked"


def test_session_from_one_works_on_the_other(instances: Any, actions: AuthActions) -> None:
    a, b = instances
    user = actions.register()
    answer = login(a, user["user"]["email"])
    assert answer.status == 200
    cookie = answer.headers["Set-Cookie"].split(";", 1)[0]
    assert cookie.startswith("session=")
    for _ in range(4):
        me = http("GET", f"{b.url}{API}/auth/me", headers={"Cookie": cookie})
        assert me.status == 200 and me.json()["user"]["id"] == user["user"]["id"]
    token = {**bearer(answer.json()["access_token"]), "Cookie": cookie}
    assert http("POST", f"{b.url}{API}/auth/logout", headers=token).status == 200
    assert http("GET", f"{a.url}{API}/auth/me", headers={"Cookie": cookie}).status == 401


def test_limiter_is_exact_across_instances(instances: Any, admin: redis_lib.Redis) -> None:
    """1,000 concurrent reads from one address against 100 per 15 minutes, spread over
    both instances (four worker processes): exactly 100 pass."""
    a, b = instances
    calls = [Call("GET", f"{(a, b)[n % 2].url}{API}/projects?per_page=3", label="list")
             for n in range(1000)]
    outcomes = run(calls, concurrency=64, timeout=10)
    assert dict(statuses(outcomes)) == {200: 100, 429: 900}
    assert all(o.json()["code"] == "rate_limited" for o in outcomes if o.status == 429)
    counters = [int(admin.get(key)) for key in admin.scan_iter(match="rate-limit*projects*")]
    assert counters == [1000]  # every request was counted in Redis, none in a fallback
    print(f"\nlimiter exactness: {dict(statuses(outcomes))} over two instances")
