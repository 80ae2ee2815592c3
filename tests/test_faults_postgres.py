"""PostgreSQL stopped under writes and restarted, with real gunicorn workers on a private
cluster: the documented 503s, cached reads still served, no half-written data, and recovery
without restarting the service."""
from __future__ import annotations

import time
from collections import Counter
from typing import Any

import psycopg2

from scripts.processes import GunicornService, PrivatePostgres, PrivateRedis, http
from tests.helpers import API, UNLIMITED, service_env
from tests.loadgen import CUT, Call, Load, server_errors, statuses
from tests.plugins.auth import AuthActions

RECOVERY_BOUND = 5.0


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def create(base: str, headers: dict[str, str], title: str) -> Any:
    return http("POST", f"{base}{API}/projects", headers=headers,
                body={"title": title, "budget": 50, "description": "written around an outage"})


def until_created(base: str, headers: dict[str, str], since: float) -> tuple[float, Counter]:
    """Seconds from `since` until a create succeeds again, and what the attempts got."""
    seen: Counter = Counter()
    while time.monotonic() < since + RECOVERY_BOUND:
        answer = create(base, headers, "recovery probe")
        seen[answer.status] += 1
        if answer.status == 201:
            return time.monotonic() - since, seen
        assert answer.status == 503 and answer.json()["code"] == "service_unavailable"
        time.sleep(0.1)
    raise AssertionError(f"creates did not succeed within {RECOVERY_BOUND} s: {dict(seen)}")


def test_postgres_stopped_and_restarted(private_postgres: PrivatePostgres,
                                        private_redis: PrivateRedis, make_app: Any,
                                        tmp_path: Any) -> None:
    env = service_env(private_postgres.url, private_redis.url, AUTH_RATE_LIMIT=UNLIMITED,
                      PROJECTS_RATE_LIMIT=UNLIMITED)
    helper = make_app(DATABASE_URL=private_postgres.url, REDIS_URL=private_redis.url,
                      JWT_SECRET=env["JWT_SECRET"], SESSION_SECRET=env["SESSION_SECRET"])
    user = AuthActions(helper).register("client")
    headers = user["headers"]
    with GunicornService(env, tmp_path, workers=2) as service:
        base = service.url
        assert create(base, headers, "before").status == 201

        # 1. Creates in flight while PostgreSQL shuts down: each one happened or did not.
        calls = [Call("POST", f"{base}{API}/projects", headers=headers, label="create",
                      body={"title": f"inflight-{n}", "budget": 1 + n, "description": "x"})
                 for n in range(400)]
        load = Load(calls, concurrency=16, timeout=10).start()
        load.wait_for(60)
        private_postgres.stop()  # fast shutdown: open transactions are aborted
        stopped_at = time.monotonic()
        time.sleep(0.5)
        load.stop_sending()
        outcomes = load.join()
        assert server_errors(outcomes, {"create": {503}}) == []
        assert set(statuses(outcomes)) <= {201, 503}, dict(statuses(outcomes))
        assert statuses(outcomes)[503] >= 1  # some creates did meet the outage
        assert all(o.json()["code"] == "service_unavailable" for o in outcomes
                   if o.status == 503)
        failed_during = sum(1 for o in outcomes if o.status == 503 and o.started < stopped_at)
        private_postgres.start()
        restarted_at = time.monotonic()
        recovered, attempts = until_created(base, headers, restarted_at)

        created = {o.json()["project"]["id"]: o.call.body["title"] for o in outcomes
                   if o.status == 201}
        refused = {o.call.body["title"] for o in outcomes if o.status in (503, CUT)}
        stored = dict(rows(private_postgres.url,
                           "SELECT id::text, title FROM projects WHERE title LIKE 'inflight-%'"))
        assert stored == created  # every 201 is stored, nothing refused or cut is
        assert not refused & set(stored.values())
        assert rows(private_postgres.url, "SELECT count(*) FROM projects p LEFT JOIN users u "
                                    "ON u.id = p.owner_id WHERE u.id IS NULL") == [(0,)]
        total = rows(private_postgres.url, "SELECT count(*) FROM projects")[0][0]
        generation = rows(private_postgres.url,
                          "SELECT value FROM cache_generations WHERE name = 'projects'")[0][0]
        assert generation >= total  # no project was committed without its generation bump

        # 2. PostgreSQL down with a warm cache: cached reads served, the rest a clean 503.
        listing = f"{base}{API}/projects?per_page=100"
        some_id = next(iter(created))
        detail = f"{base}{API}/projects/{some_id}"
        for url in (listing, listing, detail, detail):
            http("GET", url)
        assert http("GET", listing).headers["X-Cache"] == "HIT"
        private_postgres.stop()
        down_at = time.monotonic()
        for _ in range(6):  # both workers
            answer = http("GET", listing)
            assert answer.status == 200 and answer.headers["X-Cache"] == "HIT"
            assert answer.json()["pagination"]["total"] == total
            assert http("GET", detail).headers["X-Cache"] == "HIT"
        for path in ("/health/db", "/health/ready"):
            started = time.monotonic()
            answer = http("GET", f"{base}{API}{path}")
            assert answer.status == 503 and time.monotonic() - started < 5
            assert answer.json()["success"] is False
        for method, path in (("GET", "/projects?per_page=7"), ("GET", "/stats/summary")):
            answer = http(method, f"{base}{API}{path}")
            assert answer.status == 503 and answer.json()["code"] == "service_unavailable"
        answer = create(base, headers, "while down")
        assert answer.status == 503 and answer.json()["code"] == "service_unavailable"
        assert http("GET", f"{base}{API}/health/redis").status == 200
        assert time.monotonic() - down_at < 10
        private_postgres.start()
        second_recovery, second_attempts = until_created(base, headers, time.monotonic())
        assert http("GET", f"{base}{API}/health/ready").status == 200
        for _ in range(4):  # the new project shows on every worker: the cache is not stale
            answer = http("GET", listing)
            assert answer.status == 200, (answer.status, answer.json(), service.log()[-3000:])
            assert answer.json()["pagination"]["total"] == total + 1
        assert rows(private_postgres.url, "SELECT count(*) FROM projects WHERE title = 'while down'"
                    ) == [(0,)]
        assert "Traceback" not in service.log(), service.log()
    print(f"\npostgres stopped under {len(outcomes)} creates: {dict(statuses(outcomes))} "
          f"({failed_during} refused before the stop returned); creates back "
          f"{recovered:.2f} s after restart ({dict(attempts)}), second outage "
          f"{second_recovery:.2f} s ({dict(second_attempts)})")


def test_a_restart_costs_no_request_a_503(private_postgres: PrivatePostgres, make_app: Any) -> None:
    """Pooled connections that the restart closed are noticed at checkout (their socket has
    the server's termination notice or EOF to read) and dropped unused: the first
    transactions after the restart all succeed, on fresh connections."""
    app = make_app(DATABASE_URL=private_postgres.url, DB_POOL_MAX=3)
    pool = app.extensions["database"]
    with pool.connection(), pool.connection(), pool.connection():
        pass  # three connections open, idle in the pool
    backends = lambda: rows(private_postgres.url, "SELECT count(*) FROM pg_stat_activity "  # noqa: E731
                                            "WHERE application_name = 'marketplace'")
    assert backends() == [(3,)]
    private_postgres.stop()
    private_postgres.start()
    assert backends() == [(0,)]
    for _ in range(3):
        with pool.transaction() as cur:
            cur.execute("SELECT 1 AS one")
            assert cur.fetchone() == {"one": 1}
    assert backends() == [(1,)]  # one fresh connection, reused
