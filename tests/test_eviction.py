"""Eviction: on a 2 MB allkeys-lru Redis, a workload several times larger evicts keys and
the service keeps answering correctly (revocation, limits, caches), and says so.

The response cache cannot be that workload any more (its entries are capped and stop at a
share of Redis's memory, see test_cache_memory.py): the pressure comes from another writer
of the same Redis, here keys of ~180 KB that the test deletes afterwards.
"""
from __future__ import annotations

from typing import Any

import pytest
import redis as redis_lib

from scripts.processes import PrivateRedis
from tests.helpers import API, SMALL_LRU, UNLIMITED
from tests.plugins.auth import DEFAULT_PASSWORD, AuthActions
from tests.plugins.projects import make_project, make_user

MAXMEMORY = 2 * 1024 * 1024
FILLER = b"f" * 180_000
FILLER_PREFIX = "other-writer:"  # not a prefix of the service


@pytest.fixture
def small_redis(tmp_path: Any) -> Any:
    server = PrivateRedis(tmp_path / "redis", extra_args=SMALL_LRU).start()
    yield server
    server.kill()


def _flood(server: redis_lib.Redis, client: Any, rounds: range) -> int:
    """Fill Redis with distinct ~180 KB keys of another writer, reading a list page through
    the service between them; the bytes written."""
    for i in rounds:
        server.set(f"{FILLER_PREFIX}{i}", FILLER, ex=600)
        response = client.get(f"{API}/projects?per_page={i % 60 + 1}",
                              environ_base={"REMOTE_ADDR": "10.1.0.1"})
        assert response.status_code == 200
    return len(rounds) * len(FILLER)


def test_service_stays_correct_under_eviction(make_app: Any, db: Any, small_redis: Any) -> None:
    # An empty Redis already uses about 1 MB of these 2 MB: the cache may take up to 90 %.
    app = make_app(REDIS_URL=small_redis.url, PROJECTS_RATE_LIMIT=UNLIMITED,
                   CACHE_MEMORY_SHARE=0.9)
    client = app.test_client()
    server = redis_lib.Redis.from_url(small_redis.url)
    assert server.config_get("maxmemory")["maxmemory"] == str(MAXMEMORY)
    owner = make_user(db)
    ids = [make_project(db, owner, title=f"Evicted {i}", description="d" * 3000, budget=i + 1)
           for i in range(60)]
    actions = AuthActions(app)
    admin = actions.register("admin")
    user = actions.register()
    assert client.post(f"{API}/auth/logout", headers=user["headers"]).status_code == 200

    sent = _flood(server, client, range(0, 40))  # 40 keys of 180 KB: several times 2 MB
    assert sent > 3 * MAXMEMORY

    # A revoked token stays revoked, whatever was evicted (its bucket included).
    buckets_gone = 0
    for round_ in range(3):
        buckets_gone += not list(server.scan_iter(match="jwt:revoked:*"))
        response = client.get(f"{API}/auth/me", headers=user["headers"])
        assert response.status_code == 401 and response.json["code"] == "token_revoked"
        _flood(server, client, range(100 + 3 * round_, 103 + 3 * round_))
    assert buckets_gone > 0  # the revocation cache was evicted and rebuilt from PostgreSQL

    # Limits still apply after the evictions: a new burst is counted and stopped. (LRU is
    # kept to the second: entries written in the same second as a counter may push the
    # counter out too, so a burst interleaved with ~200 KB writes into a 2 MB Redis would
    # not be counted in full; see docs/monitoring.md.)
    codes = [client.post(f"{API}/auth/login", environ_base={"REMOTE_ADDR": "10.2.0.1"},
                         json={"email": f"nobody{i}@example.com",
                               "password": DEFAULT_PASSWORD}).status_code for i in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]

    # Caches refill once the other writer's data is gone: a MISS rebuilds the entry, the
    # next read is a HIT with the same data.
    fillers = list(server.scan_iter(match=f"{FILLER_PREFIX}*"))
    assert fillers and server.delete(*fillers) == len(fillers)
    for pid in (ids[0], ids[-1]):
        first = client.get(f"{API}/projects/{pid}")
        second = client.get(f"{API}/projects/{pid}")
        assert first.status_code == second.status_code == 200
        assert second.headers["X-Cache"] == "HIT"
        assert first.json == second.json and second.json["project"]["id"] == pid
    listing = client.get(f"{API}/projects?per_page=5")
    assert client.get(f"{API}/projects?per_page=5").headers["X-Cache"] == "HIT"
    assert [p["budget"] for p in listing.json["data"]] == [60, 59, 58, 57, 56]

    # The operator sees the evictions and the limit.
    stats = client.get(f"{API}/health/redis-stats", headers=admin["headers"])
    assert stats.status_code == 200
    body = stats.json
    assert body["evicted_keys"] > 0
    assert body["evicted_keys"] <= server.info("stats")["evicted_keys"]
    assert body["memory"]["maxmemory_bytes"] == MAXMEMORY
    assert body["memory"]["policy"] == "allkeys-lru"
    server.close()
