"""Redis stopped, frozen, or never told: reads come from PostgreSQL, writes succeed, and no
entry older than a write is served once Redis answers again, on any worker or instance."""
from __future__ import annotations

import time
from typing import Any

from marketplace.generations import PROJECTS as GENERATION
from scripts.processes import GunicornService, PrivateRedis, http
from tests.helpers import UNLIMITED, service_env
from tests.plugins.projects import PROJECTS, ids

NEW = {"title": "Outage project", "description": "Written while Redis was away", "budget": 42}


def wait_until_known(apps: list[Any], generation: int, timeout: float = 5.0) -> None:
    """NOTIFY is asynchronous: give each process's listener a moment (an upper bound)."""
    deadline = time.monotonic() + timeout
    for app in apps:
        tracker = app.extensions["generations"]
        while tracker.required(GENERATION) < generation and time.monotonic() < deadline:
            time.sleep(0.02)
        assert tracker.required(GENERATION) >= generation


def current_generation(db: Any) -> int:
    with db.cursor() as cur:
        cur.execute("SELECT value FROM cache_generations WHERE name = 'projects'")
        return int(cur.fetchone()[0])


def test_redis_stopped_reads_and_writes_work_then_caching_resumes(
        private_redis: PrivateRedis, make_app: Any, auth: Any, db: Any) -> None:
    app = make_app(REDIS_URL=private_redis.url)
    client = app.test_client()
    headers = type(auth)(app).headers("client")
    first = client.post(f"{PROJECTS}/", json=NEW, headers=headers).json["project"]["id"]
    client.get(f"{PROJECTS}/")
    assert client.get(f"{PROJECTS}/").headers["X-Cache"] == "HIT"

    private_redis.stop()
    for url in (f"{PROJECTS}/", f"{PROJECTS}/{first}", f"{PROJECTS}/featured"):
        response = client.get(url)
        assert response.status_code == 200 and response.headers["X-Cache"] == "MISS", url
    created = client.post(f"{PROJECTS}/", json=NEW, headers=headers)
    assert created.status_code == 201, created.json
    during = created.json["project"]["id"]
    assert during in ids(client.get(f"{PROJECTS}/"))
    assert client.patch(f"{PROJECTS}/{first}", json={"budget": 43},
                        headers=headers).status_code == 200
    assert client.get(f"{PROJECTS}/{first}").json["project"]["budget"] == 43

    private_redis.start()
    deadline = time.monotonic() + 10
    states = []
    while time.monotonic() < deadline and states[-2:] != ["MISS", "HIT"]:
        response = client.get(f"{PROJECTS}/")
        assert response.status_code == 200 and during in ids(response)
        states.append(response.headers["X-Cache"])
        time.sleep(0.1)
    assert states[-2:] == ["MISS", "HIT"], states  # caching resumed by itself


def test_write_redis_never_heard_of_is_not_hidden(make_app: Any, auth: Any, db: Any,
                                                  redis: Any, private_redis: PrivateRedis
                                                  ) -> None:
    """Instances A and B share Redis; C writes through another Redis (as if the shared one
    had been unreachable at that moment): only PostgreSQL's NOTIFY can tell A and B."""
    a, b = make_app(), make_app()
    c = make_app(REDIS_URL=private_redis.url)
    headers = auth.headers("client")
    project_id = a.test_client().post(f"{PROJECTS}/", json=NEW,
                                      headers=headers).json["project"]["id"]
    for app in (a, b):
        for _ in range(2):
            app.test_client().get(f"{PROJECTS}/")
            app.test_client().get(f"{PROJECTS}/{project_id}")
    assert b.test_client().get(f"{PROJECTS}/").headers["X-Cache"] == "HIT"
    marker = redis.get("cache:projects:generation")

    patched = c.test_client().patch(f"{PROJECTS}/{project_id}", json={"title": "Changed"},
                                    headers=headers)
    assert patched.status_code == 200
    assert redis.get("cache:projects:generation") == marker  # the shared Redis never knew
    wait_until_known([a, b], current_generation(db))
    for app in (a, b):
        client = app.test_client()
        assert client.get(f"{PROJECTS}/").json["data"][0]["title"] == "Changed"
        assert client.get(f"{PROJECTS}/{project_id}").json["project"]["title"] == "Changed"
        assert client.get(f"{PROJECTS}/").headers["X-Cache"] == "HIT"  # rebuilt, fresh


def test_redis_frozen_create_succeeds_and_no_worker_serves_the_old_list(
        private_redis: PrivateRedis, make_app: Any, auth: Any, db: Any,
        database_url: str, tmp_path: Any) -> None:
    env = service_env(database_url, private_redis.url, PROJECTS_RATE_LIMIT=UNLIMITED)
    with GunicornService(env, tmp_path, workers=2) as service:
        writer, other = make_app(REDIS_URL=private_redis.url), make_app(REDIS_URL=private_redis.url)
        headers = type(auth)(writer).headers("client")
        writer.test_client().post(f"{PROJECTS}/", json=NEW, headers=headers)
        readers = [lambda: http("GET", f"{service.url}{PROJECTS}/")] * 6 + [
            lambda: other.test_client().get(f"{PROJECTS}/"),
            lambda: writer.test_client().get(f"{PROJECTS}/"),
        ]
        for read in readers:
            read()
        assert http("GET", f"{service.url}{PROJECTS}/").headers["X-Cache"] == "HIT"

        private_redis.freeze()
        try:
            started = time.monotonic()
            created = writer.test_client().post(f"{PROJECTS}/", json=NEW, headers=headers)
            assert created.status_code == 201, created.json
            assert time.monotonic() - started < 5  # an upper bound on a hang, not a speed
        finally:
            private_redis.thaw()
        new_id = created.json["project"]["id"]
        wait_until_known([other], current_generation(db))
        time.sleep(0.2)  # the service's workers hear the same NOTIFY
        for _ in range(4):
            for read in readers:
                response = read()
                body = response.json() if callable(response.json) else response.json
                assert new_id in [p["id"] for p in body["data"]]
        assert "Traceback" not in service.log()
