"""Write generations carried by PostgreSQL, so Redis caches can tell when they missed a write.

Every write that makes a Redis cache stale bumps a counter row in its own transaction
(`bump`) and, through NOTIFY, every process of every instance learns the new value
(`required`). A cache entry records the generation it was built at; an entry older than
what this process knows is stale even if the invalidation never reached Redis (Redis was
down or frozen at the time). The check is a comparison in memory: no query per cache hit.
"""
from __future__ import annotations

import logging
import os
import select
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable
from typing import Any

import psycopg2
import psycopg2.extensions
from flask import current_app

log = logging.getLogger(__name__)

CHANNEL = "marketplace_generations"
PROJECTS = "projects"  # projects and proposals: the response cache
USERS = "users"  # accounts: the user cache and the tokens they accept
REVOKED_TOKENS = "revoked_tokens"  # logouts: the revocation buckets
NAMES = (PROJECTS, USERS, REVOKED_TOKENS)
EVERY_ITEM = "*"  # a write that touched more items than a notification names
_RECENT_IDS = 10_000  # per-id generations remembered; older ones raise the floor
_MAX_NAMED_IDS = 100  # beyond this a NOTIFY says EVERY_ITEM (its payload has a size limit)


def bump(cur: Any, name: str, item_ids: Collection[str] = ()) -> int:
    """Inside the writer's transaction: the new generation, announced at commit (NOTIFY is
    delivered when the transaction commits, and never if it rolls back)."""
    cur.execute(
        "UPDATE cache_generations SET value = value + 1 WHERE name = %s RETURNING value",
        (name,),
    )
    value = _first(cur.fetchone())
    ids = EVERY_ITEM if len(item_ids) > _MAX_NAMED_IDS else ",".join(sorted(item_ids))
    cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{name}:{value}:{ids}"))
    return value


def read(cur: Any, name: str) -> int:
    """The generation as of the caller's snapshot (store it with what the snapshot built)."""
    cur.execute("SELECT value FROM cache_generations WHERE name = %s", (name,))
    return _first(cur.fetchone())


def _first(row: Any) -> int:
    return int(row["value"] if isinstance(row, dict) else row[0])


class _Known:
    """What one process knows of one generation counter."""

    def __init__(self) -> None:
        self.latest = 0
        self.floor = 0  # every id's entries older than this are stale
        self.by_id: OrderedDict[str, int] = OrderedDict()

    def learn(self, value: int, item_ids: Iterable[str]) -> None:
        self.latest = max(self.latest, value)
        for item_id in item_ids:
            if item_id == EVERY_ITEM:
                self.floor = max(self.floor, value)
                continue
            self.by_id[item_id] = max(value, self.by_id.pop(item_id, 0))
            if len(self.by_id) > _RECENT_IDS:
                _, forgotten = self.by_id.popitem(last=False)
                self.floor = max(self.floor, forgotten)

    def reset(self, value: int) -> None:
        """After (re)connecting we may have missed notifications: distrust everything older."""
        self.latest = max(self.latest, value)
        self.floor = max(self.floor, value)
        self.by_id.clear()


class GenerationTracker:
    """One LISTEN connection per process, started lazily (after gunicorn forks)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._known = {name: _Known() for name in NAMES}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def learn(self, name: str, value: int, item_ids: Iterable[str] = ()) -> None:
        """Record a generation this process produced or heard of (and the items it touched)."""
        with self._lock:
            self._known[name].learn(value, item_ids)

    def required(self, name: str, item_id: str | None = None) -> int:
        """The oldest generation an entry may have been built at to still be fresh."""
        self._ensure_listening()
        known = self._known[name]
        if item_id is None:
            return known.latest
        return max(known.floor, known.by_id.get(item_id, 0))

    def _ensure_listening(self) -> None:
        if self._pid == os.getpid() and self._thread is not None:
            return
        with self._lock:
            if self._pid != os.getpid() or self._thread is None:
                self._pid = os.getpid()
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._listen_forever, name="generation-listener", daemon=True
                )
                self._thread.start()
        # The first request of a process waits briefly for the floor to be read.
        self._ready.wait(timeout=1.0)

    def _listen_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen_once()
            except (psycopg2.Error, OSError) as exc:
                log.warning("generation listener disconnected: %s", str(exc).strip()[:200])
            self._stop.wait(1.0)

    def _listen_once(self) -> None:
        conn = psycopg2.connect(self.dsn, connect_timeout=2, application_name="marketplace-listen")
        try:
            conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
            with conn.cursor() as cur:
                cur.execute(f"LISTEN {CHANNEL}")
                cur.execute("SELECT name, value FROM cache_generations")
                current = dict(cur.fetchall())
            with self._lock:
                for name, known in self._known.items():
                    known.reset(int(current.get(name, 0)))
            self._ready.set()
            while not self._stop.is_set():
                if select.select([conn], [], [], 1.0) == ([], [], []):
                    with conn.cursor() as cur:  # notice a dead server within a second
                        cur.execute("SELECT 1")
                    continue
                conn.poll()
                while conn.notifies:
                    self._on_notify(conn.notifies.pop(0).payload)
        finally:
            conn.close()

    def _on_notify(self, payload: str) -> None:
        name, _, rest = payload.partition(":")
        value, _, ids = rest.partition(":")
        if name in self._known and value.isdigit():
            self.learn(name, int(value), ids.split(",") if ids else ())

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        self._thread = None


class Generations:
    """The extension: `generations.required(...)` for the current app."""

    def init_app(self, app: Any) -> GenerationTracker:
        tracker = GenerationTracker(app.config["DATABASE_URL"])
        app.extensions["generations"] = tracker
        return tracker

    @property
    def tracker(self) -> GenerationTracker:
        return current_app.extensions["generations"]

    def required(self, name: str, item_id: str | None = None) -> int:
        return self.tracker.required(name, item_id)

    def learn(self, name: str, value: int, item_ids: Iterable[str] = ()) -> None:
        self.tracker.learn(name, value, item_ids)
