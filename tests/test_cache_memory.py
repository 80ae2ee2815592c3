"""The response cache cannot take Redis from everything else: no entry over
CACHE_MAX_ENTRY_BYTES, nothing stored past CACHE_MEMORY_SHARE of Redis's memory, list pages
that carry excerpts; sessions and failed-login counters survive the largest reads a client
can ask for on Render's 25 MB `allkeys-lru` Key Value."""
from __future__ import annotations

from typing import Any

import pytest
import redis as redis_lib

from bench.inprocess import RedisTap
from config import ConfigError, load_config
from marketplace import metrics
from scripts.processes import PrivateRedis
from tests.plugins.auth import DEFAULT_PASSWORD, AuthActions
from tests.plugins.projects import PROJECTS, cache_keys, make_project, make_user

API = "/api/v1"
WIDE = "\U0001F600"  # four bytes of UTF-8 per character, the most JSON keeps a character to
WRONG = "wrong-password"


def largest_project(i: int) -> dict[str, Any]:
    """The largest body the validation accepts, in bytes of the JSON that lists it."""
    return {"title": f"{i:03d}" + WIDE * 197, "description": WIDE * 10_000,
            "budget": 1_000_000_000 - i, "skills": [f"{n:02d}" + WIDE * 48 for n in range(20)],
            "deadline": "2030-01-01"}


def counted(app: Any, name: str) -> int:
    with app.app_context():
        return metrics.totals().get(name, 0)


@pytest.fixture
def redis_25mb(tmp_path: Any) -> Any:
    """Render's free Key Value: 25 MB, allkeys-lru."""
    with PrivateRedis(tmp_path / "redis", extra_args=[
            "--maxmemory", "25mb", "--maxmemory-policy", "allkeys-lru"]) as server:
        yield server


@pytest.fixture
def redis_4mb(tmp_path: Any) -> Any:
    with PrivateRedis(tmp_path / "redis", extra_args=[
            "--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"]) as server:
        yield server


def test_an_entry_over_the_ceiling_is_served_not_stored_and_counted(
        app: Any, client: Any, db: Any, redis: Any) -> None:
    """Default CACHE_MAX_ENTRY_BYTES (128 KiB): a page of 100 projects with long titles and
    twenty long skills each is ~190 KB; 20 of them are ~38 KB. A miss costs the same three
    round trips either way: the limit (with the planned read), re-read + lock, and then
    store + release (one script) or, for the refused entry, the release alone."""
    owner = make_user(db)
    for i in range(100):
        make_project(db, owner, title="t" * 200, description="word " * 100, budget=i + 1,
                     skills=[f"{n:02d}" + "s" * 48 for n in range(20)])
    warm = client.get(f"{PROJECTS}/featured")  # loads the limiter's and the store's scripts
    assert warm.headers["X-Cache"] == "MISS"
    not_stored = counted(app, "cache_not_stored")

    with app.app_context():
        metrics.flush()  # no counter flush may land inside the measurement
    for url, size_ok in ((f"{PROJECTS}?per_page=100", False), (f"{PROJECTS}?per_page=20", True)):
        with RedisTap() as tap:
            first = client.get(url)
        assert first.status_code == 200 and first.headers["X-Cache"] == "MISS"
        assert (len(first.data) <= 131_072) is size_ok, len(first.data)
        assert tap.round_trips == 3, tap.commands
        second = client.get(url)
        assert second.headers["X-Cache"] == ("HIT" if size_ok else "MISS")
        assert second.data == first.data
    assert [k for k in cache_keys(redis) if b"per_page=100" in k] == []
    assert [k for k in cache_keys(redis) if b"lock:" in k] == []  # released all the same
    assert counted(app, "cache_not_stored") - not_stored == 2

    stats = client.get(f"{API}/health/redis-stats", headers=AuthActions(app).headers("admin"))
    assert stats.json["counters"]["cache_not_stored"] >= 2
    assert app.config["CACHE_MAX_ENTRY_BYTES"] == 131_072  # what the sizes above assumed


def test_many_distinct_entries_never_push_redis_into_eviction(
        make_app: Any, db: Any, redis_4mb: Any) -> None:
    """400 distinct list entries (~18 MB in all) into a 4 MB allkeys-lru Redis: the store
    script stops storing at half of maxmemory; nothing is evicted, and a session made
    before still works."""
    app = make_app(REDIS_URL=redis_4mb.url, PROJECTS_RATE_LIMIT="100000 per hour",
                   AUTH_RATE_LIMIT="1000 per hour")
    server = redis_lib.Redis.from_url(redis_4mb.url)
    owner = make_user(db)
    for i in range(100):
        make_project(db, owner, title=f"Project {i} " + "t" * 100, description="d" * 1000,
                     budget=i + 1, skills=[f"skill-{n}-" + "s" * 12 for n in range(10)])
    user = AuthActions(app).register()
    browser = app.test_client()
    assert browser.post(f"{API}/auth/login", json={"email": user["user"]["email"],
                                                   "password": DEFAULT_PASSWORD}).status_code == 200
    not_stored = counted(app, "cache_not_stored")

    reader = app.test_client()
    for per_page in range(1, 101):
        for query in ("sort=newest", "sort=budget", "status=open", "status=open&sort=budget"):
            response = reader.get(f"{PROJECTS}?per_page={per_page}&{query}")
            assert response.status_code == 200 and len(response.json["data"]) == per_page

    memory, stats = server.info("memory"), server.info("stats")
    assert stats["evicted_keys"] == 0
    assert memory["used_memory"] < 0.5 * memory["maxmemory"] + 131_072
    stored = [k for k in server.scan_iter(match="cache:/api/v1/projects?*")]
    assert 10 < len(stored) < 400  # it stored while there was room, then stopped
    assert counted(app, "cache_not_stored") - not_stored == 400 - len(stored)
    assert browser.get(f"{API}/auth/me").status_code == 200
    server.close()


def test_without_maxmemory_the_share_is_of_redis_memory_limit(
        make_app: Any, db: Any, private_redis: Any) -> None:
    """A Redis that reports maxmemory 0 is held to REDIS_MEMORY_LIMIT instead."""
    app = make_app(REDIS_URL=private_redis.url, PROJECTS_RATE_LIMIT="100000 per hour",
                   REDIS_MEMORY_LIMIT=3_000_000, CACHE_MEMORY_SHARE=0.5)
    server = redis_lib.Redis.from_url(private_redis.url)
    assert server.info("memory")["maxmemory"] == 0
    owner = make_user(db)
    for i in range(100):
        make_project(db, owner, description="d" * 1000, budget=i + 1,
                     skills=[f"skill-{n}-" + "s" * 12 for n in range(10)])
    reader = app.test_client()
    for per_page in range(50, 101):
        for sort in ("newest", "budget"):
            assert reader.get(f"{PROJECTS}?per_page={per_page}&sort={sort}").status_code == 200
    assert server.info("memory")["used_memory"] < 1_500_000 + 131_072
    assert 0 < len(list(server.scan_iter(match="cache:/api/v1/projects?*"))) < 102
    server.close()


def test_largest_reads_on_25mb_evict_nothing(make_app: Any, db: Any, redis_25mb: Any) -> None:
    """100 projects with the largest fields a client may send, then 30 anonymous reads of
    the largest list pages: no key is evicted, a browser session made before still works,
    and a failed-login count made before still ends in a 429 on time."""
    app = make_app(REDIS_URL=redis_25mb.url, PROJECTS_RATE_LIMIT="100000 per hour",
                   AUTH_RATE_LIMIT="1000 per hour")
    server = redis_lib.Redis.from_url(redis_25mb.url)
    assert server.config_get("maxmemory")["maxmemory"] == str(25 * 1024 * 1024)
    actions = AuthActions(app)
    owner = actions.register("client")
    writer = app.test_client()
    for i in range(100):
        body = largest_project(i)
        response = writer.post(PROJECTS, json=body, headers=owner["headers"])
        assert response.status_code == 201, response.json
        assert response.json["project"]["description"] == body["description"]

    user = actions.register()
    email = user["user"]["email"]
    browser = app.test_client()
    assert browser.post(f"{API}/auth/login",
                        json={"email": email, "password": DEFAULT_PASSWORD}).status_code == 200
    attacker = app.test_client()
    for _ in range(3):  # LOGIN_FAILURE_LIMIT is 5 per 15 minutes
        assert attacker.post(f"{API}/auth/login",
                             json={"email": email, "password": WRONG}).status_code == 401

    anonymous = app.test_client()
    pages = []
    for sort in ("newest", "budget"):
        for query in ("", "&status=open", f"&skill={largest_project(0)['skills'][0]}"):
            for per_page in range(96, 101):
                response = anonymous.get(f"{PROJECTS}?per_page={per_page}&sort={sort}{query}")
                assert response.status_code == 200 and len(response.json["data"]) == per_page
                pages.append(response)
    assert len(pages) == 30

    evicted = server.info("stats")["evicted_keys"]
    me = browser.get(f"{API}/auth/me")
    codes = [attacker.post(f"{API}/auth/login", json={"email": email, "password": WRONG})
             .status_code for _ in range(3)]
    assert (evicted, me.status_code, codes) == (0, 200, [401, 401, 429])
    assert me.json["user"]["id"] == user["user"]["id"]
    assert server.info("stats")["evicted_keys"] == 0
    # Each page is still ~600 KB (twenty 200-byte skills per project): served, not stored.
    assert all(page.headers["X-Cache"] == "MISS" for page in pages)
    assert all(item["description_truncated"] for item in pages[0].json["data"])
    server.close()


def test_the_settings_and_their_bounds() -> None:
    config = load_config({"APP_ENV": "testing"})
    assert (config.CACHE_MAX_ENTRY_BYTES, config.CACHE_MEMORY_SHARE,
            config.REDIS_MEMORY_LIMIT) == (131_072, 0.5, 25_000_000)
    for bad in ("1.5", "-0.1", "half"):
        with pytest.raises(ConfigError, match="CACHE_MEMORY_SHARE"):
            load_config({"APP_ENV": "testing", "CACHE_MEMORY_SHARE": bad})
