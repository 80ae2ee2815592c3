"""The response cache: keys, HIT/MISS, only 2xx, TTLs, coherence across instances, stampedes."""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis as redis_lib

from scripts.processes import PrivateRedis
from tests.helpers import UNLIMITED, run_threads
from tests.plugins.projects import PROJECTS, cache_keys, ids

NEW = {"title": "Cached project", "description": "Something to cache", "budget": 700}


def test_miss_then_hit_and_normalised_keys(client: Any, new_project: Any) -> None:
    for i in range(3):
        new_project(title=f"Project number {i}")
    first = client.get(f"{PROJECTS}/?page=1&per_page=1")
    assert first.status_code == 200 and first.headers["X-Cache"] == "MISS"
    again = client.get(f"{PROJECTS}/?page=1&per_page=1")
    assert again.headers["X-Cache"] == "HIT" and again.data == first.data
    assert again.json["pagination"] == {"page": 1, "per_page": 1, "total": 3, "pages": 3}

    second_page = client.get(f"{PROJECTS}/?page=2&per_page=1")
    assert second_page.headers["X-Cache"] == "MISS" and ids(second_page) != ids(first)
    reordered = client.get(f"{PROJECTS}/?per_page=1&page=2")
    assert reordered.headers["X-Cache"] == "HIT" and reordered.data == second_page.data

    plain = client.get(f"{PROJECTS}")  # no trailing slash, no parameters
    assert plain.headers["X-Cache"] == "MISS"
    for url in (f"{PROJECTS}/", f"{PROJECTS}/?sort=newest&page=1",
                f"{PROJECTS}/?per_page=20&sort=newest&page=1&q="):
        assert client.get(url).headers["X-Cache"] == "HIT", url

    detail_id = ids(first)[0]
    assert client.get(f"{PROJECTS}/{detail_id}").headers["X-Cache"] == "MISS"
    assert client.get(f"{PROJECTS}/{detail_id.upper()}").headers["X-Cache"] == "HIT"
    assert client.get(f"{PROJECTS}/featured").headers["X-Cache"] == "MISS"
    assert client.get(f"{PROJECTS}/featured").headers["X-Cache"] == "HIT"


def test_only_successes_are_stored_and_every_key_expires(client: Any, redis: Any,
                                                         auth: Any) -> None:
    client.get(f"{PROJECTS}/")
    before = cache_keys(redis)
    assert client.get(f"{PROJECTS}/{uuid.uuid4()}").status_code == 404
    assert client.get(f"{PROJECTS}/not-an-id").status_code == 404
    assert client.get(f"{PROJECTS}/?page=0").status_code == 400
    assert client.get(f"{PROJECTS}/?sort=cheap").status_code == 400
    assert cache_keys(redis) == before

    headers = auth.headers("client")
    project = client.post(f"{PROJECTS}/", json=NEW, headers=headers).json["project"]
    listed = client.get(f"{PROJECTS}/{project['id']}/proposals", headers=headers)
    assert listed.status_code == 200 and "X-Cache" not in listed.headers  # caller-specific
    client.get(f"{PROJECTS}/{project['id']}")
    client.get(f"{PROJECTS}/featured")
    keys = cache_keys(redis)
    assert b"cache:projects:generation" in keys and len(keys) >= 4
    for key in keys:
        assert 0 < redis.ttl(key) <= 300, key


def _write_then_read(kind: str, client: Any, project_id: str, headers: dict[str, Any],
                     auth: Any) -> Callable[[dict[str, Any] | None, list[str]], bool]:
    """Do one write; return a check that a detail body and a list of ids reflect it."""
    url = f"{PROJECTS}/{project_id}"
    if kind == "create":
        new_id = client.post(f"{PROJECTS}/", json=NEW, headers=headers).json["project"]["id"]
        return lambda detail, listed: new_id in listed
    if kind == "update":
        assert client.patch(url, json={"title": "Renamed project"},
                            headers=headers).status_code == 200
        return lambda detail, listed: detail["title"] == "Renamed project"
    if kind == "proposal":
        response = client.post(f"{url}/proposals", json={"cover_letter": "Me",
                               "bid_amount": 5}, headers=auth.headers("agent"))
        assert response.status_code == 201
        return lambda detail, listed: detail["proposal_count"] == 1
    assert client.delete(url, headers=headers).status_code == 200
    return lambda detail, listed: detail is None and project_id not in listed


@pytest.mark.parametrize("kind", ["create", "update", "delete", "proposal"])
def test_every_write_is_seen_by_the_next_read_on_every_instance(
        kind: str, make_app: Any, auth: Any, db: Any, redis: Any) -> None:
    first, second = make_app().test_client(), make_app().test_client()
    headers = auth.headers("client")
    project_id = first.post(f"{PROJECTS}/", json=NEW, headers=headers).json["project"]["id"]
    for instance in (first, second):  # both instances have it cached (MISS then HIT)
        for _ in range(2):
            instance.get(f"{PROJECTS}/")
            instance.get(f"{PROJECTS}/{project_id}")
    assert second.get(f"{PROJECTS}/").headers["X-Cache"] == "HIT"

    reflects = _write_then_read(kind, first, project_id, headers, auth)
    for instance in (second, first):
        listed = instance.get(f"{PROJECTS}/")
        detail = instance.get(f"{PROJECTS}/{project_id}")
        body = detail.json.get("project") if detail.status_code == 200 else None
        assert reflects(body, ids(listed)), (kind, listed.json, detail.json)
        if kind == "update":
            assert [p["title"] for p in listed.json["data"]] == ["Renamed project"]
        if kind == "proposal":
            assert listed.json["data"][0]["proposal_count"] == 1


def test_accept_is_seen_by_the_next_read(client: Any, auth: Any) -> None:
    owner = auth.register("client")
    project_id = client.post(f"{PROJECTS}/", json=NEW,
                             headers=owner["headers"]).json["project"]["id"]
    proposal = client.post(f"{PROJECTS}/{project_id}/proposals",
                           json={"cover_letter": "Me", "bid_amount": 5},
                           headers=auth.headers("agent")).json["proposal"]
    client.get(f"{PROJECTS}/featured")
    client.get(f"{PROJECTS}/?status=open")
    client.get(f"{PROJECTS}/{project_id}")
    client.post(f"{PROJECTS}/{project_id}/proposals/{proposal['id']}/accept",
                headers=owner["headers"])
    assert client.get(f"{PROJECTS}/featured").json["data"] == []
    assert client.get(f"{PROJECTS}/?status=open").json["pagination"]["total"] == 0
    detail = client.get(f"{PROJECTS}/{project_id}").json["project"]
    assert detail["status"] == "in_progress"


def _queries(apps: list[Any]) -> int:
    return sum(app.extensions["database"].queries for app in apps)


@pytest.mark.parametrize("instances", [1, 3])
def test_fifty_concurrent_cold_requests_query_at_most_twice(
        instances: int, make_app: Any, new_project: Any, db: Any, redis: Any) -> None:
    """Counted with the app's own statement counter (`db.pool.queries`, every cursor.execute
    of the process's pool); a page is one statement (generation, total and rows together)."""
    apps = [make_app(PROJECTS_RATE_LIMIT=UNLIMITED) for _ in range(instances)]
    for i in range(30):
        new_project(title=f"Stampede project {i}", budget=100 + i)
    for app in apps:  # start each listener, so no request waits for it
        app.test_client().get(f"{PROJECTS}/featured")
    before = _queries(apps)
    barrier = threading.Barrier(50)
    results: list[tuple[int, str]] = []

    def request(app: Any) -> None:
        client = app.test_client()
        barrier.wait(timeout=20)
        response = client.get(f"{PROJECTS}/?sort=budget&per_page=10")
        results.append((response.status_code, response.headers.get("X-Cache", "")))

    run_threads([threading.Thread(target=request, args=(apps[i % instances],))
                 for i in range(50)], timeout=30)
    assert len(results) == 50 and {status for status, _ in results} == {200}
    assert _queries(apps) - before <= 2
    assert sum(state == "MISS" for _, state in results) <= 2


def test_no_keys_or_scan_on_any_projects_path(tmp_path: Any, make_app: Any, auth: Any,
                                              db: Any) -> None:
    with PrivateRedis(tmp_path / "redis") as server:
        app = make_app(REDIS_URL=server.url)
        client = app.test_client()
        actions = type(auth)(app)
        owner = actions.register("client")
        project_id = client.post(f"{PROJECTS}/", json=NEW,
                                 headers=owner["headers"]).json["project"]["id"]
        for url in (f"{PROJECTS}/", f"{PROJECTS}/featured", f"{PROJECTS}/{project_id}"):
            client.get(url)
            client.get(url)
        client.patch(f"{PROJECTS}/{project_id}", json={"budget": 9},
                     headers=owner["headers"])
        client.post(f"{PROJECTS}/{project_id}/proposals",
                    json={"cover_letter": "Me", "bid_amount": 5},
                    headers=actions.headers("agent"))
        client.get(f"{PROJECTS}/")
        client.delete(f"{PROJECTS}/{project_id}", headers=owner["headers"])
        stats = app.extensions["redis"].client.info("commandstats")
    assert "cmdstat_keys" not in stats and "cmdstat_scan" not in stats
    assert "cmdstat_mget" in stats and "cmdstat_eval" in stats


def test_a_cached_read_is_one_redis_round_trip_with_its_rate_limit(
        client: Any, new_project: Any, redis: Any) -> None:
    """The blueprint's rate-limit check reads the entry (and list marker) in its own
    pipeline, so a HIT costs one round trip; the limit still counts every request."""
    from bench.inprocess import RedisTap

    project_id = new_project()
    for url in (f"{PROJECTS}/?page=1", f"{PROJECTS}/featured", f"{PROJECTS}/{project_id}"):
        assert client.get(url).headers["X-Cache"] == "MISS"
        with RedisTap() as tap:
            hit = client.get(url)
        assert hit.status_code == 200 and hit.headers["X-Cache"] == "HIT", url
        assert tap.round_trips == 1, (url, tap.commands)
        assert tap.commands["EVALSHA"] == 1 and tap.commands["MGET"] == 1, tap.commands
    counters = [k for k in redis.scan_iter(match="rate-limit*") if b"projects" in k]
    assert [int(redis.get(k)) for k in counters] == [6]  # six reads, one shared counter


def test_values_read_with_the_limit_are_used_once(client: Any, auth: Any) -> None:
    """The miss path re-reads Redis, a write is seen by the next read, and a query string
    the view refuses is not planned at all (400, nothing cached)."""
    owner = auth.register("client")
    assert client.post(f"{PROJECTS}/", json=NEW, headers=owner["headers"]).status_code == 201
    assert client.get(f"{PROJECTS}/").headers["X-Cache"] == "MISS"
    assert client.get(f"{PROJECTS}/").headers["X-Cache"] == "HIT"
    assert client.post(f"{PROJECTS}/", json=NEW, headers=owner["headers"]).status_code == 201
    fresh = client.get(f"{PROJECTS}/")
    assert fresh.headers["X-Cache"] == "MISS" and len(fresh.json["data"]) == 2
    assert client.get(f"{PROJECTS}/?page=0").status_code == 400
    assert client.get(f"{PROJECTS}/featured?x=1").status_code == 400
    assert client.get(f"{PROJECTS}/").headers["X-Cache"] == "HIT"


def test_a_lost_script_cache_costs_one_more_round_trip_not_an_error(
        tmp_path: Any, make_app: Any, auth: Any) -> None:
    """After a Redis restart or SCRIPT FLUSH the limiter's EVALSHA answers NOSCRIPT inside
    the pipeline: the count is retried through the library (which loads the script) and
    the entry read in the pipeline is still used."""
    with PrivateRedis(tmp_path / "redis") as server:
        app = make_app(REDIS_URL=server.url)
        client = app.test_client()
        owner = type(auth)(app).register("client")
        assert client.post(f"{PROJECTS}/", json=NEW, headers=owner["headers"]).status_code == 201
        assert client.get(f"{PROJECTS}/").headers["X-Cache"] == "MISS"
        admin = redis_lib.Redis.from_url(server.url)
        admin.script_flush()
        hit = client.get(f"{PROJECTS}/")
        assert hit.status_code == 200 and hit.headers["X-Cache"] == "HIT"
        assert client.get(f"{PROJECTS}/").headers["X-Cache"] == "HIT"
        counts = [int(v) for v in admin.mget(list(admin.scan_iter(match="rate-limit*")))]
        admin.close()
    assert counts == [4]  # the create and three reads, each counted once
