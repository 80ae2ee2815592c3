"""Writes that make caches stale say so where they happen, and cannot forget it.

A store writes inside `with writes.write() as w:` and names what it changed with
`w.touch(generations.PROJECTS, project_id)`. When the block ends, in the same transaction,
each touched namespace's generation is bumped (so a cache entry built before the write is
stale on every instance, even if Redis misses the news); after the commit this process
learns the new generations and the namespace's owner drops what Redis holds of it
(`on_write`, registered by the module that owns that cache). A namespace touched without an
owner is a bug and fails the write loudly.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from marketplace import generations as gen
from marketplace.extensions import db, generations

log = logging.getLogger(__name__)

Announce = Callable[[int, set[str]], None]  # (new generation, touched item ids) after commit
_owners: dict[str, Announce] = {}


def on_write(name: str, announce: Announce) -> None:
    """Register who drops the Redis copies of namespace `name` after a write commits."""
    _owners[name] = announce


class Write:
    """One transaction that changes what caches hold: `cur` runs its SQL, `touch` names what
    changed (an item id, or the whole namespace when no id is given)."""

    def __init__(self, cur: Any) -> None:
        self.cur = cur
        self.touched: dict[str, set[str]] = {}
        self.generations: dict[str, int] = {}

    def touch(self, name: str, item_id: object = None) -> None:
        items = self.touched.setdefault(name, set())
        if item_id is not None:
            items.add(str(item_id))


@contextmanager
def write() -> Iterator[Write]:
    """A transaction that bumps the generations of what it touched, then announces them.

    Every write of a namespace bumps the same generation row, so PostgreSQL runs them one
    after another whatever the service does. A worker serving many requests at once (the
    gevent worker) queues its writes here, in memory, one at a time: queued in PostgreSQL
    instead, each would hold a pooled connection and an open transaction while it waits,
    and the row's lock would be held longer, for as long as the worker takes to get back
    to the request that holds it (bench/notes.md)."""
    with db.pool.one_writer(), db.transaction() as cur:
        change = Write(cur)
        yield change
        for name, items in change.touched.items():
            if name not in _owners:
                raise RuntimeError(f"a write touched {name!r}, which has no cache owner")
            change.generations[name] = gen.bump(cur, name, items)
    for name, value in change.generations.items():
        items = change.touched[name]
        generations.learn(name, value, items)
        _owners[name](value, items)
