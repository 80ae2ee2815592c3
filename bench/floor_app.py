"""The floor of a cached read: the service's one Redis round trip and nothing else.

A plain WSGI function (no Flask, no service code on the request path) that sends what a
cached `GET /api/v1/projects?per_page=20` or `GET /api/v1/projects/<id>` of the service
sends — `EVALSHA` of `limits`' own increment-with-expiry script on a counter key and `MGET`
of the entry (and, for the list, its marker), in one write on a redis-py connection of its
own (one per request in flight, kept for the next) — and answers the entry's stored bytes.
No Python design that keeps the contract's exact shared rate limit (one count in Redis per
request) and serves from the shared cache can be cheaper under gunicorn, so "x floor" says
how much of the distance to bare Flask the service's own code still accounts for.
"""
from __future__ import annotations

import os
from typing import Any

import redis
from limits.storage import RedisStorage
from redis.connection import Connection, parse_url

from marketplace import keys

LIST_PATH = "/api/v1/projects"
ENTRY = keys.cache_key(f"{LIST_PATH}?page=1&per_page=20&sort=newest")
MARKER = keys.cache_key(keys.PROJECTS_MARKER)
COUNTER = f"{keys.RATE_LIMIT_STORAGE_PREFIX}:LIMITER/floor/127.0.0.1/projects"
_SHA = redis.Redis.from_url(os.environ["REDIS_URL"]).script_load(
    RedisStorage.SCRIPT_INCR_EXPIRE)
_COUNT = ("EVALSHA", _SHA, 1, COUNTER, 900, 1)
_LIST = (_COUNT, ("MGET", ENTRY, MARKER))
_free: list[Connection] = []  # this worker's idle connections, opened after the fork


def _round_trip(commands: tuple[tuple[Any, ...], ...]) -> list[Any]:
    # Under gevent several requests of a worker are in flight at once: each takes a
    # connection of its own (list.pop and append are atomic).
    try:
        conn = _free.pop()
    except IndexError:
        conn = Connection(**parse_url(os.environ["REDIS_URL"]))
    conn.send_packed_command(conn.pack_commands(commands))
    replies = [conn.read_response() for _ in commands]
    _free.append(conn)
    return replies


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    path = environ["PATH_INFO"]
    # A detail's entry is named by its path (`projects.cache.detail_key`), the list's by its
    # canonical query.
    commands = _LIST if path == LIST_PATH else (_COUNT, ("MGET", keys.cache_key(path)))
    _count, (entry, *_marker) = _round_trip(commands)
    body = (entry or b"0:{}").partition(b":")[2]
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
