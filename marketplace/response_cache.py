"""Public JSON responses cached in the shared Redis, never older than a known write.

An entry is `b"<generation>:" + body`: the body, and the generation of its namespace
(`generations.PROJECTS`) that the data was read at, from the same snapshot. A namespace's
lists share a marker key holding the newest generation a writer announced through Redis,
read in the same MGET as the entry; writes Redis never heard of (it was down or frozen) are
known to every process through PostgreSQL's NOTIFY (`generations.required`): no query per
hit. A cached read's MGET rides in the round trip that counts its rate limit
(`rate_limits.hit_and_read`), so a HIT is one round trip in all; once a route has answered
a request from an entry, the same anonymous request is answered by `front.py` with the same
round trip and this module's `validator`, before Flask.

Conditional GET: every answer carries an `ETag` made of the entry's generation and key and
`Cache-Control: no-cache`; a request whose `If-None-Match` names the current tag gets 304
with no body (counted against the limit like any read). A write changes the generation, so
the tag; a write Redis missed makes the entry stale, so it is rebuilt with the new tag.

Misses are single-flight: one computation per key in a process (a lock per key), and across
processes a short Redis lock whose losers poll the entry briefly. The cache shares Redis
with sessions, counters and revocations, and Redis evicts under `allkeys-lru` when full, so
entries must never be what fills it: an entry over CACHE_MAX_ENTRY_BYTES is served but not
stored, and the store script refuses to store while Redis's memory in use plus the entry
would pass CACHE_MEMORY_SHARE of its maxmemory (of REDIS_MEMORY_LIMIT when Redis has none).
Both count `cache_not_stored`.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, request

from marketplace import keys, metrics
from marketplace.extensions import generations, redis_store
from marketplace.generations import GenerationTracker
from marketplace.http import success_body
from marketplace.rate_limits import ServiceLimit, hit_and_read
from marketplace.redis import RedisHandle, Script, degrade

LOCAL_WAIT_SECONDS = 2.0  # waiting for this process's own computation of the key
REMOTE_WAIT_SECONDS = 1.0  # polling for another process's computation, then compute anyway
POLL_SECONDS = 0.05
MAX_DROPPED = 100  # detail entries one write deletes by name; the rest go stale by generation

Build = Callable[[], tuple[int, dict[str, Any]]]  # -> (generation, the envelope's fields)

# Raise the marker to ARGV[1] if it is lower, and delete the exact entries named after it.
_ANNOUNCE = Script("""
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
else
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
""")
_RELEASE = Script("""
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
""")
# Store KEYS[1] = ARGV[1] for ARGV[2] s unless used_memory + the entry would pass ARGV[3]
# (the share) of maxmemory, or of ARGV[4] when maxmemory is 0; then release the lock
# KEYS[2] if ARGV[5] still holds it. Returns 1 when stored. INFO is read inside the script,
# so the check and the SET see the same memory (Redis 6.2 and 7 allow it in scripts).
_STORE = Script("""
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
""")


READ_FIRST = "marketplace.read_first"  # environ: a ReadFirst, for the route's `serve`


@dataclass(frozen=True)
class ReadFirst:
    """The round trip `front.py` made for a request before handing it to its route: the
    values it read (None when Redis failed; the limit's fallback counted), or the limit's
    refusal. `serve` uses it instead of counting and reading again."""

    name: str
    values: list[Any] | None
    refused: Exception | None = None


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


def _split(raw: Any) -> tuple[int, bytes] | None:
    if not raw or not isinstance(raw, bytes):
        return None
    head, sep, body = raw.partition(b":")
    return (int(head), body) if sep and head.isdigit() else None


def etag(generation: int, key: str) -> str:
    """The validator of an entry: what makes it fresh (its generation) and which one it is."""
    return f'"{generation}-{zlib.crc32(key.encode()):08x}"'


def _matches(header: str, tag: str) -> bool:
    """Whether an If-None-Match header names `tag` (weakly, as RFC 9110 says for GET)."""
    return header.strip() == "*" or any(
        candidate.strip().removeprefix("W/") == tag for candidate in header.split(","))


class ResponseCache:
    """Cached responses of one generation namespace (e.g. `generations.PROJECTS`)."""

    def __init__(self, generation: str, marker: str) -> None:
        self.generation = generation
        self.marker_key = keys.cache_key(marker)
        self._flights = _KeyLocks()

    def read_keys(self, name: str, item_id: str | None = None) -> list[str]:
        """The Redis keys a read of entry `name` needs: it, and for lists the marker."""
        entry = keys.cache_key(name)
        return [entry] if item_id is not None else [entry, self.marker_key]

    def _read(self, name: str, item_id: str | None) -> list[Any] | None:
        """The entry (and marker) in a round trip of their own; None while Redis is down."""
        return read(redis_store.handle, self.read_keys(name, item_id))

    def fresh(self, values: list[Any], item_id: str | None,
              known: GenerationTracker) -> tuple[int, bytes] | None:
        """(generation, body) of the entry read, if no write newer than it is `known`."""
        if item_id is None:
            raw, marker = values
            floor = max(int(marker or 0), known.required(self.generation))
        else:
            [raw] = values
            floor = known.required(self.generation, item_id)
        entry = _split(raw)
        return entry if entry is not None and entry[0] >= floor else None

    def _fresh(self, values: list[Any], item_id: str | None) -> tuple[int, bytes] | None:
        return self.fresh(values, item_id, generations.tracker)

    def serve(self, name: str, build: Build, *, limit: ServiceLimit | None = None,
              item_id: str | None = None, timeout: int | None = None) -> Response:
        """A HIT (or 304) from Redis, or `build()` stored and sent as a MISS.

        `item_id` marks a detail entry (fresh unless that item was written); without it the
        entry belongs to the namespace's lists and any write makes it stale. Only what
        `build` returns is stored: an exception (404, 400, 503) leaves nothing behind.
        A request the front already counted and read arrives with its `ReadFirst`; any
        other teaches the front which entry it reads.
        """
        read_first = request.environ.pop(READ_FIRST, None)
        if read_first is not None and read_first.name == name:  # the front's round trip
            if read_first.refused is not None:
                raise read_first.refused
            values = read_first.values
        else:
            current_app.extensions["front"].learn(request, self, name, item_id, limit)
            values = hit_and_read(limit, self.read_keys(name, item_id)) if limit else None
        if values is None:
            values = self._read(name, item_id)
            if values is None:  # Redis is down: the database answers, nothing is stored
                generation, fields = build()
                return _respond(name, generation, success_body(**fields), "miss")
        entry = self._fresh(values, item_id)
        if entry is not None:
            return _respond(name, entry[0], entry[1], "hit")
        with self._flights.hold(name, LOCAL_WAIT_SECONDS):
            return self._fill(name, build, item_id, timeout)

    def _fill(self, name: str, build: Build, item_id: str | None,
              timeout: int | None) -> Response:
        """Three round trips: re-read + lock, (build), store + unlock; more only for the
        processes that lost the lock and poll for the winner's entry."""
        lock, token = keys.cache_lock(name), os.urandom(16).hex()
        found = self._reread_and_lock(name, item_id, lock, token)
        if found is not None:
            entry, owner = found
            if entry is not None:  # the previous holder of the local lock stored it
                if owner:
                    self._release(lock, token)
                return _respond(name, entry[0], entry[1], "hit")
            deadline = time.monotonic() + REMOTE_WAIT_SECONDS
            while not owner and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
                values = self._read(name, item_id)
                if values is None:
                    break
                entry = self._fresh(values, item_id)
                if entry is not None:
                    return _respond(name, entry[0], entry[1], "hit")
        else:
            owner = False
        try:
            generation, fields = build()
        except BaseException:
            if owner:
                self._release(lock, token)
            raise
        body = success_body(**fields)
        stored = None if found is None else self._store(name, generation, body, timeout,
                                                        lock if owner else None, token)
        return _respond(name, generation, body, "not_stored" if stored is False else "miss")

    @degrade(None)
    def _reread_and_lock(self, name: str, item_id: str | None, lock: str,
                         token: str) -> tuple[tuple[int, bytes] | None, bool]:
        """One round trip: the entry again (another thread may have stored it) and SET NX;
        None while Redis is down (the answer is built and not stored)."""
        values, taken = redis_store.handle.round_trip(
            ("MGET", *self.read_keys(name, item_id)),
            ("SET", lock, token, "NX", "PX", keys.CACHE_LOCK_TTL_MS))
        return self._fresh(values, item_id), taken == b"OK"

    # Redis unavailable: the response goes out uncached, and the lock expires by itself.
    @degrade(None)
    def _store(self, name: str, generation: int, body: bytes, timeout: int | None,
               lock: str | None, token: str) -> bool | None:
        """Store the entry, within its size and memory limits, and release our lock (if we
        hold it) in one round trip: True when stored, False when a limit refused it, None
        when Redis did not answer."""
        cfg = current_app.config
        entry = b"%d:%s" % (generation, body)
        if len(entry) > cfg["CACHE_MAX_ENTRY_BYTES"]:
            if lock is not None:
                self._release(lock, token)
            return False
        names = [keys.cache_key(name)] + ([lock] if lock is not None else [])
        ttl = timeout or cfg["CACHE_DEFAULT_TIMEOUT"]
        return bool(redis_store.handle.run_script(
            _STORE, names,
            [entry, ttl, cfg["CACHE_MEMORY_SHARE"], cfg["REDIS_MEMORY_LIMIT"], token]))

    @degrade(None)
    def _release(self, lock: str, token: str) -> None:
        redis_store.handle.run_script(_RELEASE, [lock], [token])

    # Redis unavailable: the breaker logged the outage once; NOTIFY covers it.
    @degrade(None)
    def announce(self, generation: int, detail_names: Iterable[str] = ()) -> None:
        """After a write commits: Redis raises the marker and drops the exact detail entries,
        in one round trip. Other processes also learn the write from NOTIFY, so a write
        Redis missed still makes older entries stale everywhere."""
        names = [self.marker_key, *(keys.cache_key(name)
                                    for name in itertools.islice(detail_names, MAX_DROPPED))]
        # The marker outlives every entry stored before the write (they expire sooner, bar
        # a few milliseconds covered by NOTIFY), so like every cache key it lives <= 300 s.
        ttl = current_app.config["CACHE_DEFAULT_TIMEOUT"]
        redis_store.handle.run_script(_ANNOUNCE, names, [generation, ttl])


_X_CACHE = {"hit": "HIT", "miss": "MISS", "not_stored": "MISS"}
# A response the cache could not keep is a miss too, and counted apart as well.
COUNTERS = {"hit": ("cache_hits",), "miss": ("cache_misses",),
            "not_stored": ("cache_misses", "cache_not_stored")}


@degrade(None)
def read(handle: RedisHandle, read_keys: list[str]) -> list[Any] | None:
    """MGET `read_keys` in a round trip of their own; None while Redis is down."""
    [values] = handle.round_trip(("MGET", *read_keys))
    return values


def validator(name: str, generation: int, result: str,
              if_none_match: str | None) -> tuple[bool, tuple[tuple[str, str], ...]]:
    """Whether the client already holds this entry (a 304), and the cache's headers."""
    tag = etag(generation, name)
    held = bool(if_none_match) and _matches(if_none_match, tag)  # type: ignore[arg-type]
    return held, (("X-Cache", _X_CACHE[result]), ("ETag", tag), ("Cache-Control", "no-cache"))


def _respond(name: str, generation: int, body: bytes, result: str) -> Response:
    """200 with the body, or 304 when the client already holds this entry."""
    req = request._get_current_object()
    req.cache_result = result
    metrics.incr_all(COUNTERS[result])
    held, headers = validator(name, generation, result, req.environ.get("HTTP_IF_NONE_MATCH"))
    if held:
        response = Response(status=304)
    else:
        response = Response(body, status=200, mimetype="application/json")
    response.headers.extend(headers)
    return response
