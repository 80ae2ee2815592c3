"""The scenarios: what each target is asked, and what is reset before each run."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis

from bench.sides import Side
from bench.wrk import Request

# Presence as the auth domain keeps it: one sorted set, member = user id, score = the time
# of the user's last activity in seconds; /stats/online is a ZCOUNT over the window.
OUR_PRESENCE_KEY = "active:users"
PEER_PRESENCE_PREFIX = "active:user:"  # the peer: one key per user, counted with KEYS
PRESENCE_TTL = 900
HIT_IDS = 50
NEW_PROJECT = {"title": "Benchmark project", "description": "Created by the benchmark.",
               "budget": 500}


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    method: str
    path: str  # "<id>" is replaced from the side's ids
    cached_read: bool = False
    authenticated: bool = False
    ids: str = ""  # "hit": a few ids cycled; "miss": every id once per run
    body: str | None = None
    presence: int = 0  # active users filled in before the scenario
    sequential_requests: int = 200  # for the accounting pass
    peer: bool = True  # the Express peer has the route

    def requests(self, side: Side) -> tuple[list[Request], dict[str, str]]:
        if side.kind == "bare":
            return [Request("GET", "/")], {}
        headers: dict[str, str] = {}
        if self.body is not None:
            headers["Content-Type"] = "application/json"
        if self.authenticated:
            headers["Authorization"] = f"Bearer {side.token}"
        body = self.body
        if self.name == "login":
            body = json.dumps({"email": side.email, "password": side.password})
        if not self.ids:
            return [Request(self.method, self.path, body)], headers
        ids = side.ids[:HIT_IDS] if self.ids == "hit" else side.ids
        return [Request(self.method, self.path.replace("<id>", i), body) for i in ids], headers

    def before_run(self, side: Side) -> None:
        """A miss run starts with no cached project: every id is then read from PostgreSQL."""
        if self.ids == "miss" and side.redis is not None:
            delete_matching(side.redis, "cache:*")

    def prepare(self, side: Side, login: bool = True) -> None:
        """Presence filled in; a fresh token when the scenario needs one (they expire)."""
        if self.presence and side.redis is not None:
            fill_presence(side, self.presence)
        if login and self.authenticated and side.kind != "bare":
            side.log_in()


SCENARIOS = [
    # Our app's fixed per-request cost (hooks, logging) against bare Flask; the peer has none.
    Scenario("health", "`GET /health` (no Redis, no SQL)", "GET", "/api/v1/health",
             peer=False),
    Scenario("list_hit", "cached `GET /projects?per_page=20` (hit)", "GET",
             "/api/v1/projects?per_page=20", cached_read=True),
    Scenario("detail_hit", f"`GET /projects/<id>` (hit, {HIT_IDS} ids)", "GET",
             "/api/v1/projects/<id>", cached_read=True, ids="hit"),
    Scenario("detail_miss", "`GET /projects/<id>` (miss)", "GET", "/api/v1/projects/<id>",
             ids="miss"),
    Scenario("me", "`GET /auth/me` (bearer token)", "GET", "/api/v1/auth/me",
             cached_read=True, authenticated=True),
    Scenario("login", "`POST /auth/login`", "POST", "/api/v1/auth/login", body="",
             sequential_requests=20),
    Scenario("create", "`POST /projects`", "POST", "/api/v1/projects",
             authenticated=True, body=json.dumps(NEW_PROJECT), sequential_requests=50),
    Scenario("online_1k", "`GET /stats/online`, 1,000 active users", "GET",
             "/api/v1/stats/online", presence=1_000),
    Scenario("online_100k", "`GET /stats/online`, 100,000 active users", "GET",
             "/api/v1/stats/online", presence=100_000),
]


def delete_matching(client: redis.Redis, pattern: str) -> int:
    """SCAN + UNLINK in a db the bench owns (never KEYS, never FLUSHDB on the peer's db)."""
    removed = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            removed += client.unlink(*batch)
            batch.clear()
    if batch:
        removed += client.unlink(*batch)
    return removed


def fill_presence(side: Side, count: int) -> None:
    """Write `count` active users straight into Redis, the way each side stores presence."""
    assert side.redis is not None
    now = time.time()
    pipe = side.redis.pipeline(transaction=False)
    if side.kind == "ours":
        pipe.delete(OUR_PRESENCE_KEY)
        for start in range(0, count, 10_000):
            members = {f"bench-user-{i}": now for i in range(start, min(count, start + 10_000))}
            pipe.zadd(OUR_PRESENCE_KEY, members)
        pipe.expire(OUR_PRESENCE_KEY, PRESENCE_TTL)
    else:
        delete_matching(side.redis, f"{PEER_PRESENCE_PREFIX}bench-user-*")
        for i in range(count):
            pipe.set(f"{PEER_PRESENCE_PREFIX}bench-user-{i}", "1", ex=PRESENCE_TTL)
    pipe.execute()


def selected(only: tuple[str, ...]) -> list[Scenario]:
    return [s for s in SCENARIOS if not only or s.name in only]


