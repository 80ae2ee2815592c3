"""Public JSON responses cached in the shared Redis, each entry tagged with the PostgreSQL
generation its data was read at, so an entry older than a known write is never served.

An entry is `b"<generation>:" + body`. A namespace (e.g. the project lists) has a marker
key holding the newest generation any writer announced through Redis; it is read in the
same MGET as the entry. Writes Redis never heard of (it was down or frozen) are known to
every process through PostgreSQL's NOTIFY (`generations.required`): no query per hit.
A limited route's planner (`limit_storage.plan_reads`) lets the rate-limit check read the
entry and marker in its own round trip; `_fresh` takes them from there when it did.
Misses are single-flight: one computation per key in a process (a lock per key), and
across processes a short Redis lock whose losers poll the entry briefly.

The cache shares Redis with sessions, rate-limit counters and revocations, and Redis
evicts under `allkeys-lru` when full: entries must never be what fills it. An entry over
CACHE_MAX_ENTRY_BYTES is served but not stored, and the store script refuses to store
while Redis's memory in use plus the entry would pass CACHE_MEMORY_SHARE of its maxmemory
(of REDIS_MEMORY_LIMIT when Redis has none). Both count `cache_not_stored`.
"""
from __future__ import annotations

import copy
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from cachelib.serializers import BaseRedisSerializer
from flask import Response, current_app

from marketplace import metrics
from marketplace.extensions import cache, generations, redis_store
from marketplace.rate_limits import ServiceLimit, hit_and_read
from marketplace.redis import REDIS_ERRORS, degrade

log = logging.getLogger(__name__)

KEY_PREFIX = "cache:"  # set as Flask-Caching's CACHE_KEY_PREFIX; every key below lives under it
LOCK_PREFIX = "lock:"  # cache:lock:<key>, held while one process computes <key>
LOCK_TTL_MS = 2000
LOCAL_WAIT_SECONDS = 2.0  # waiting for this process's own computation of the key
REMOTE_WAIT_SECONDS = 1.0  # polling for another process's computation, then compute anyway
POLL_SECONDS = 0.05
MAX_DROPPED = 100  # detail entries one write deletes by name; the rest go stale by generation

# Raise the marker to ARGV[1] if it is lower, and delete the exact entries named after it.
_ANNOUNCE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Store KEYS[1] = ARGV[1] for ARGV[2] s unless used_memory + the entry would pass ARGV[3]
# (the share) of maxmemory, or of ARGV[4] when maxmemory is 0; then release the lock
# KEYS[2] if ARGV[5] still holds it. Returns 1 when stored. INFO is read inside the script,
# so the check and the SET see the same memory (Redis 6.2 and 7 allow it in scripts).
_STORE = """
local info = redis.call('INFO', 'memory')
local used = tonumber(string.match(info, '\\nused_memory:(%d+)')) or 0
local limit = tonumber(string.match(info, '\\nmaxmemory:(%d+)')) or 0
if limit == 0 then limit = tonumber(ARGV[4]) end
local stored = 0
if used + #KEYS[1] + #ARGV[1] <= limit * tonumber(ARGV[3]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  stored = 1
end
if KEYS[2] and redis.call('GET', KEYS[2]) == ARGV[5] then redis.call('DEL', KEYS[2]) end
return stored
"""


class RawBytes(BaseRedisSerializer):
    """Entries are stored and served as the bytes they are: no pickle, no JSON round trip."""

    def dumps(self, value: Any, protocol: int = 0) -> bytes:
        return value

    def loads(self, value: bytes | None) -> Any:
        return value


class _KeyLocks:
    """One lock per key being computed in this process, dropped when nobody holds or waits."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, list[Any]] = {}

    @contextmanager
    def hold(self, key: str, timeout: float) -> Iterator[bool]:
        with self._guard:
            entry = self._locks.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        acquired = entry[0].acquire(timeout=timeout)
        try:
            yield acquired
        finally:
            if acquired:
                entry[0].release()
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[key]


def _split(raw: bytes | None) -> tuple[int, bytes] | None:
    if not raw:
        return None
    head, sep, body = raw.partition(b":")
    return (int(head), body) if sep and head.isdigit() else None


class ResponseCache:
    """Cached responses of one generation namespace (e.g. `generations.PROJECTS`)."""

    def __init__(self, generation: str, marker_key: str) -> None:
        self.generation = generation
        self.marker_key = marker_key
        self._flights = _KeyLocks()

    def _backend(self) -> Any:
        """Flask-Caching's RedisCache on the shared client, with the raw-bytes serializer."""
        backend = current_app.extensions.get("response_cache")
        if backend is None:
            backend = copy.copy(cache.cache)
            backend.serializer = RawBytes()
            current_app.extensions["response_cache"] = backend
        return backend

    def read_keys(self, key: str, item_id: str | None = None) -> list[str]:
        """The Redis keys `_fresh` reads for an entry: it, and for lists the marker."""
        names = [key] if item_id is not None else [key, self.marker_key]
        return [KEY_PREFIX + name for name in names]

    def _read(self, key: str, item_id: str | None) -> list[Any]:
        """The entry (and marker), read by Flask-Caching's backend."""
        if item_id is not None:
            return [self._backend().get(key)]
        return list(self._backend().get_many(key, self.marker_key))

    def _fresh_body(self, values: list[Any], item_id: str | None) -> bytes | None:
        """The entry's body if no write newer than it is known."""
        if item_id is None:
            raw, marker = values
            floor = max(int(marker or 0), generations.required(self.generation))
        else:
            [raw] = values
            floor = generations.required(self.generation, item_id)
        entry = _split(raw)
        return entry[1] if entry is not None and entry[0] >= floor else None

    def _fresh(self, key: str, item_id: str | None) -> bytes | None:
        """The entry's body if fresh (at most one round trip, often none of its own)."""
        return self._fresh_body(self._read(key, item_id), item_id)

    def serve(self, key: str, build: Callable[[], tuple[int, Any]], *,
              limit: ServiceLimit | None = None, item_id: str | None = None,
              timeout: int | None = None) -> Response:
        """A HIT from Redis, or `build()` -> (generation, payload) stored and sent as a MISS.

        `item_id` marks a detail entry (fresh unless that item was written); without it the
        entry belongs to the namespace's lists and any write makes it stale. Only what
        `build` returns is stored: an exception (404, 400, 503) leaves nothing behind.
        """
        values = hit_and_read(limit, self.read_keys(key, item_id)) if limit else None
        try:
            body = self._fresh_body(values if values is not None else self._read(key, item_id),
                                    item_id)
        except REDIS_ERRORS:
            return _respond(orjson.dumps(build()[1]), "MISS")
        if body is not None:
            return _respond(body, "HIT")
        with self._flights.hold(key, LOCAL_WAIT_SECONDS):
            return self._fill(key, build, item_id, timeout)

    def _fill(self, key: str, build: Callable[[], tuple[int, Any]],
              item_id: str | None, timeout: int | None) -> Response:
        """Three round trips: re-read + lock, (build), store + unlock; more only for the
        processes that lost the lock and poll for the winner's entry."""
        lock_key, token = f"{KEY_PREFIX}{LOCK_PREFIX}{key}", uuid.uuid4().hex
        owner = False
        try:
            body, owner = self._reread_and_lock(key, item_id, lock_key, token)
            if body is not None:  # the previous holder of the local lock stored it
                if owner:
                    self._release(lock_key, token)
                return _respond(body, "HIT")
            deadline = time.monotonic() + REMOTE_WAIT_SECONDS
            while not owner and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
                body = self._fresh(key, item_id)
                if body is not None:
                    return _respond(body, "HIT")
        except REDIS_ERRORS:
            return _respond(orjson.dumps(build()[1]), "MISS")
        try:
            generation, payload = build()
        except BaseException:
            if owner:
                self._release(lock_key, token)
            raise
        body = orjson.dumps(payload)
        self._store(key, generation, body, timeout, lock_key if owner else None, token)
        return _respond(body, "MISS")

    def _reread_and_lock(self, key: str, item_id: str | None, lock_key: str,
                         token: str) -> tuple[bytes | None, bool]:
        """One pipeline: the entry again (another thread may have stored it) and SET NX."""
        pipe = redis_store.client.pipeline(transaction=False)
        pipe.mget(self.read_keys(key, item_id))
        pipe.set(lock_key, token, nx=True, px=LOCK_TTL_MS)
        values, owner = pipe.execute()
        return self._fresh_body(values, item_id), bool(owner)

    # Redis unavailable: the response goes out uncached, and the lock expires by itself
    # within LOCK_TTL_MS.
    @degrade()
    def _store(self, key: str, generation: int, body: bytes, timeout: int | None,
               lock_key: str | None, token: str) -> None:
        """Store the entry, within its size and memory limits, and release our lock (if we
        hold it) in one round trip: one EVALSHA (redis-py loads the script first when Redis
        answers NOSCRIPT, e.g. after a restart)."""
        cfg = current_app.config
        entry = b"%d:%s" % (generation, body)
        if len(entry) > cfg["CACHE_MAX_ENTRY_BYTES"]:
            metrics.incr("cache_not_stored")
            if lock_key is not None:
                self._release(lock_key, token)
            return
        keys = [KEY_PREFIX + key] + ([lock_key] if lock_key is not None else [])
        ttl = timeout or cfg["CACHE_DEFAULT_TIMEOUT"]
        store = redis_store.client.register_script(_STORE)
        if not store(keys, [entry, ttl, cfg["CACHE_MEMORY_SHARE"], cfg["REDIS_MEMORY_LIMIT"],
                            token]):
            metrics.incr("cache_not_stored")

    @degrade()
    def _release(self, lock_key: str, token: str) -> None:
        redis_store.client.eval(_RELEASE, 1, lock_key, token)

    def announce_write(self, generation: int, item_id: str | None = None,
                       detail_keys: tuple[str, ...] = ()) -> None:
        """After commit: this process knows at once, then Redis hears of it (`announce`)."""
        generations.learn(self.generation, generation, [item_id] if item_id else ())
        self.announce(generation, detail_keys)

    # Redis unavailable: the breaker logged the outage once; NOTIFY covers it.
    @degrade(None)
    def announce(self, generation: int, detail_keys: Iterable[str] = ()) -> None:
        """After a write commits: Redis raises the marker and drops the exact detail entries,
        in one round trip. Other processes also learn the write from NOTIFY, so a write
        Redis missed still makes older entries stale everywhere."""
        names = [KEY_PREFIX + self.marker_key,
                 *(KEY_PREFIX + key for key in itertools.islice(detail_keys, MAX_DROPPED))]
        # The marker outlives every entry stored before the write (they expire sooner, bar
        # a few milliseconds covered by NOTIFY), so like every cache: key it lives <= 300 s.
        ttl = current_app.config["CACHE_DEFAULT_TIMEOUT"]
        redis_store.client.eval(_ANNOUNCE, len(names), *names, generation, ttl)


def _respond(body: bytes, state: str) -> Response:
    metrics.incr("cache_hits" if state == "HIT" else "cache_misses")
    response = Response(body, status=200, mimetype="application/json")
    response.headers["X-Cache"] = state
    return response
