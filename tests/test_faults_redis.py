"""Redis killed, frozen, disconnected or emptied under load, with real gunicorn processes on a
private Redis: only the documented 503s, every request bounded, and recovery by itself."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_lib

from scripts.processes import GunicornService, PrivateRedis, http
from tests.helpers import API, NO_RATE_LIMITS, UNLIMITED, run_threads, service_env
from tests.loadgen import (
    REDIS_DOWN_503,
    Call,
    Load,
    during,
    mixed_calls,
    server_errors,
    slowest,
    statuses,
)
from tests.plugins.auth import DEFAULT_PASSWORD, AuthActions
from tests.plugins.projects import make_project

RECOVERY_BOUND = 5.0  # seconds from Redis answering again to caching and health being back
REQUEST_BOUND = 2.5  # seconds any request may take while Redis is frozen (normal + ~1 s)
PROBE_INTERVAL = 1.0  # REDIS_PROBE_INTERVAL and REDIS_SOCKET_TIMEOUT of the service (defaults)
SOCKET_TIMEOUT = 0.25


@pytest.fixture
def admin(private_redis: PrivateRedis) -> Iterator[redis_lib.Redis]:
    """A raw client on the private Redis (FLUSHALL and CLIENT KILL are safe there)."""
    client = redis_lib.Redis.from_url(private_redis.url, client_name="fault-injector")
    yield client
    client.close()


def start_service(private_redis: PrivateRedis, database_url: str, tmp_path: Any, *,
                  workers: int = 2, threads: int | None = None, **extra: str) -> GunicornService:
    """The production configuration (sync workers unless `threads`) on the private Redis."""
    env = service_env(database_url, private_redis.url, **{**NO_RATE_LIMITS, **extra})
    return GunicornService(env, tmp_path, workers=workers, threads=threads).start()


@pytest.fixture
def make_world(private_redis: PrivateRedis, make_app: Any, db: Any, database_url: str,
               tmp_path: Any) -> Iterator[Any]:
    """Start a service (workers/threads as asked), three users with tokens, a few projects."""
    services: list[GunicornService] = []

    def build(**options: Any) -> dict[str, Any]:
        services.append(start_service(private_redis, database_url, tmp_path, **options))
        return seed(services[-1], private_redis, make_app, db)

    yield build
    for service in services:
        service.stop()
    for service in services:
        assert "Traceback" not in service.log(), service.log()


@pytest.fixture
def world(make_world: Any) -> dict[str, Any]:
    return make_world()


def seed(service: GunicornService, private_redis: PrivateRedis, make_app: Any,
         db: Any) -> dict[str, Any]:
    env = service.env
    helper = make_app(REDIS_URL=private_redis.url, JWT_SECRET=env["JWT_SECRET"],
                      SESSION_SECRET=env["SESSION_SECRET"])
    actions = AuthActions(helper)
    users = [actions.register("client") for _ in range(3)]
    owner = users[0]["user"]["id"]
    project_ids = [make_project(db, owner, title=f"Seed {i}", budget=100 + i) for i in range(6)]
    return {"service": service, "base": service.url, "users": users, "actions": actions,
            "project_ids": project_ids}


def list_url(base: str) -> str:
    return f"{base}{API}/projects?per_page=50"


def wait_for_recovery(base: str, since: float, *, reads: int = 10) -> float:
    """Seconds from `since` until /health/redis answers 200 and `reads` list reads in a row
    are HITs (served from Redis again, by whichever worker takes them); fails after the bound."""
    deadline = since + RECOVERY_BOUND
    while time.monotonic() < deadline:
        if http("GET", f"{base}{API}/health/redis", timeout=2).status == 200:
            results = [http("GET", list_url(base), timeout=2) for _ in range(reads + 1)]
            assert all(r.status == 200 for r in results)
            if all(r.headers["X-Cache"] == "HIT" for r in results[1:]):
                return time.monotonic() - since
        time.sleep(0.1)
    raise AssertionError(f"caching and /health/redis not back within {RECOVERY_BOUND} s")


def warm(base: str) -> None:
    http("GET", list_url(base))
    assert http("GET", list_url(base)).headers["X-Cache"] == "HIT"


def rate_counter(admin: redis_lib.Redis, scope: str) -> int:
    """The shared fixed-window counter of `scope` for 127.0.0.1 (the only client here)."""
    keys = [k for k in admin.scan_iter(match="rate-limit*", count=1000)
            if scope.encode() in k and b"127.0.0.1" in k]
    assert len(keys) == 1, keys
    return int(admin.get(keys[0]))


@pytest.mark.parametrize("threads", [
    None,
    8,
], ids=["default-workers", "gthread-workers"])
def test_redis_killed_under_load(make_world: Any, private_redis: PrivateRedis,
                                 db: Any, threads: int | None) -> None:
    world = make_world(threads=threads)
    base = world["base"]
    warm(base)
    calls = mixed_calls(base, count=900, users=world["users"],
                        project_ids=world["project_ids"], tag="killed")
    load = Load(calls, concurrency=200, timeout=10).start()
    load.wait_for(150)
    killed_at = time.monotonic()
    private_redis.kill()  # SIGKILL: connections reset, nothing saved
    time.sleep(1.5)
    private_redis.start()  # same port, empty
    back_at = time.monotonic()
    load.stop_sending()  # the requests already queued in the service still run
    recovered = wait_for_recovery(base, back_at)
    outcomes = load.join()

    down = during(outcomes, killed_at, back_at)
    assert len(down) >= 100, f"only {len(down)} requests were sent while Redis was dead"
    assert server_errors(outcomes, REDIS_DOWN_503) == []
    for label in ("list", "detail", "me", "login"):
        assert set(statuses(down, label)) == {200}, (label, dict(statuses(down, label)))
    assert set(statuses(down, "create")) == {201}
    print(f"\nredis killed: {len(outcomes)} requests, {len(down)} while dead, "
          f"statuses {dict(statuses(outcomes))}, slowest {slowest(outcomes):.2f} s, "
          f"recovered {recovered:.2f} s after restart")
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM projects WHERE title LIKE 'killed-%%'")
        assert cur.fetchone()[0] == statuses(outcomes, "create")[201]


def test_redis_frozen_requests_stay_bounded(make_world: Any, private_redis: PrivateRedis,
                                            admin: redis_lib.Redis, db: Any) -> None:
    world = make_world(workers=4)
    base = world["base"]
    warm(base)
    calls = mixed_calls(base, count=700, users=world["users"],
                        project_ids=world["project_ids"], tag="frozen")
    # As many clients as sync workers: a duration is the service's time, not queueing.
    load = Load(calls, concurrency=4, timeout=10).start()
    load.wait_for(60)
    frozen_at = time.monotonic()
    private_redis.freeze()
    try:
        probes = {}
        for path in ("/health/redis", "/health/ready", "/health"):
            started = time.monotonic()
            answer = http("GET", f"{base}{API}{path}", timeout=10)
            probes[path] = (answer.status, time.monotonic() - started)
        time.sleep(max(0.0, frozen_at + 2.5 - time.monotonic()))
    finally:
        private_redis.thaw()
    thawed_at = time.monotonic()
    load.stop_sending()
    recovered = wait_for_recovery(base, thawed_at)
    outcomes = load.join()

    frozen = during(outcomes, frozen_at, thawed_at)
    assert len(frozen) >= 50, f"only {len(frozen)} requests were sent while Redis was frozen"
    assert server_errors(outcomes, REDIS_DOWN_503) == []
    worst = slowest(outcomes)
    assert worst < REQUEST_BOUND, sorted(
        ((round(o.seconds, 2), o.call.label) for o in outcomes), reverse=True)[:10]
    assert probes["/health/redis"][0] == 503 and probes["/health/redis"][1] < 5
    assert probes["/health/ready"][0] == 200 and probes["/health/ready"][1] < 5
    assert probes["/health"][0] == 200 and probes["/health"][1] < 5

    # The promise right after recovery: a process whose breaker is still open lets one
    # request per REDIS_PROBE_INTERVAL try Redis with its own count, so once that interval
    # has passed since Redis answered again (its last failure may be a timeout that ended
    # just after the thaw), every worker counts in Redis: 20 reads add exactly 20.
    settled = thawed_at + PROBE_INTERVAL + SOCKET_TIMEOUT
    time.sleep(max(0.0, settled - time.monotonic()))
    before = rate_counter(admin, "projects")
    for _ in range(20):
        assert http("GET", list_url(base)).status == 200
    assert rate_counter(admin, "projects") == before + 20
    # Creates made while Redis was frozen are not hidden by any cached list.
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM projects")
        total = cur.fetchone()[0]
    for _ in range(6):
        assert http("GET", list_url(base)).json()["pagination"]["total"] == total
    print(f"\nredis frozen: {len(outcomes)} requests, {len(frozen)} while frozen, "
          f"statuses {dict(statuses(outcomes))}, slowest {worst:.2f} s, health probes "
          f"{ {p: round(s, 2) for p, (_, s) in probes.items()} }, "
          f"recovered {recovered:.2f} s after SIGCONT")


def test_client_kill_mid_load_causes_no_errors(world: dict[str, Any],
                                               admin: redis_lib.Redis) -> None:
    base = world["base"]
    warm(base)
    calls = mixed_calls(base, count=600, users=world["users"],
                        project_ids=world["project_ids"], tag="clientkill")
    load = Load(calls, concurrency=32, timeout=10).start()
    killed = []
    for done in (60, 160, 260, 360, 460):
        load.wait_for(done)
        killed.append(admin.client_kill_filter(_type="normal", skipme=True))
    outcomes = load.join()
    assert sum(killed) >= 5, killed  # each round cut the service's connections
    assert server_errors(outcomes) == []  # not even the Redis-down 503s: Redis never was
    assert set(statuses(outcomes)) <= {200, 201}, dict(statuses(outcomes))
    warm(base)  # caching works on the fresh connections
    print(f"\nclient kill: {killed} connections killed in 5 rounds, {len(outcomes)} requests, "
          f"statuses {dict(statuses(outcomes))}, slowest {slowest(outcomes):.2f} s")


def test_redis_data_lost_mid_run(make_world: Any, admin: redis_lib.Redis, db: Any) -> None:
    """FLUSHALL under load: revocations come back from PostgreSQL, generations keep stale
    entries out, and every limit simply starts counting again."""
    world = make_world(AUTH_RATE_LIMIT="5 per 15 minutes")
    base, users = world["base"], world["users"]
    revoked, valid, login_user = users
    assert http("POST", f"{base}{API}/auth/logout", headers=revoked["headers"]).status == 200
    me = f"{base}{API}/auth/me"
    assert http("GET", me, headers=revoked["headers"]).json()["code"] == "token_revoked"
    login = {"email": login_user["user"]["email"], "password": DEFAULT_PASSWORD}
    codes = [http("POST", f"{base}{API}/auth/login", body=login).status for _ in range(6)]
    assert codes == [200] * 5 + [429]
    warm(base)

    calls = [call for n in range(80) for call in (
        Call("GET", me, headers=revoked["headers"], label="me-revoked"),
        Call("GET", me, headers=valid["headers"], label="me"),
        Call("GET", list_url(base), label="list"),
        Call("POST", f"{base}{API}/projects", headers=valid["headers"], label="create",
             body={"title": f"flushed-{n}", "budget": 5 + n, "description": "during flush"}),
    )]
    load = Load(calls, concurrency=8, timeout=10).start()
    flushes = []
    for done in (40, 120, 200):
        load.wait_for(done)
        admin.flushall()
        flushes.append(time.monotonic())
    outcomes = load.join()
    assert len(during(outcomes, flushes[0], time.monotonic())) >= 100
    assert server_errors(outcomes) == []
    assert set(statuses(outcomes, "me-revoked")) == {401}  # never served as valid
    assert all(o.json()["code"] == "token_revoked" for o in outcomes
               if o.call.label == "me-revoked")
    assert set(statuses(outcomes, "me")) == {200}
    assert set(statuses(outcomes, "create")) == {201}

    # No entry older than a write survives: every read sees every committed project.
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM projects")
        total = cur.fetchone()[0]
    for _ in range(8):
        assert http("GET", list_url(base)).json()["pagination"]["total"] == total
    for _ in range(3):  # write, lose Redis, read: the write is there on the next read
        warm(base)
        created = http("POST", f"{base}{API}/projects", headers=valid["headers"],
                       body={"title": "after flush", "budget": 7, "description": "x"})
        admin.flushall()
        new_id = created.json()["project"]["id"]
        for _ in range(4):
            assert new_id in [p["id"] for p in http("GET", list_url(base)).json()["data"]]
    # The revoked token stays revoked after the last flush, on every worker.
    for _ in range(6):
        answer = http("GET", me, headers=revoked["headers"])
        assert answer.status == 401 and answer.json()["code"] == "token_revoked"
    # The auth limit starts again from zero: five logins, then the sixth is refused cleanly.
    codes = [http("POST", f"{base}{API}/auth/login", body=login) for _ in range(6)]
    assert [c.status for c in codes] == [200] * 5 + [429]
    assert codes[-1].json()["code"] == "rate_limited" and int(codes[-1].headers["Retry-After"]) > 0
    print(f"\nredis flushed 3x mid-run: {len(outcomes)} requests, "
          f"statuses {dict(statuses(outcomes))}, slowest {slowest(outcomes):.2f} s")


def test_threads_of_one_worker_meeting_a_dead_redis_at_once(make_app: Any,
                                                            private_redis: PrivateRedis) -> None:
    """The race behind the gthread xfail above, made deterministic: 32 threads of one app
    (one worker process) send a limited request the instant Redis dies. Each must get the
    route's own answer (a 400 for the unknown parameter), never a 500: Flask-Limiter lets
    only the first thread switch to its fallback, so the others must be swallowed
    (RATELIMIT_SWALLOW_ERRORS in create_app), not re-raised."""
    app = make_app(REDIS_URL=private_redis.url, PROJECTS_RATE_LIMIT=UNLIMITED)
    assert app.test_client().get(f"{API}/health/redis").status_code == 200
    private_redis.kill()
    barrier = threading.Barrier(32)
    codes: list[int] = []

    def request() -> None:
        barrier.wait(timeout=10)
        codes.append(app.test_client().get(f"{API}/projects/featured?x=1").status_code)

    run_threads([threading.Thread(target=request) for _ in range(32)], timeout=20)
    assert sorted(codes) == [400] * 32, sorted(codes)
