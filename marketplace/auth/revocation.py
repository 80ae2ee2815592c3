"""Revoked tokens: PostgreSQL is the truth, Redis a per-hour cache that knows if it is complete.

Key layout (the contract's `jwt:revoked:` prefix): one HASH per expiry hour,
`jwt:revoked:<exp // 3600>`, with a field per revoked jti and the field `_gen`, the
`revoked_tokens` generation up to which the hash holds every revocation of that hour.
The hash expires when the last token of its hour does (plus a margin). A hash without
`_gen` (evicted, flushed, never built) or with a `_gen` older than this process knows of
is rebuilt from PostgreSQL; since marker and entries live in one key, eviction or FLUSHDB
removes both together and can never yield a false "not revoked".
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from marketplace import generations as gen
from marketplace.extensions import db, generations, redis_store
from marketplace.redis import REDIS_ERRORS

log = logging.getLogger(__name__)

REVOKED_PREFIX = "jwt:revoked:"
BUCKET_SECONDS = 3600
EXPIRY_MARGIN = 300  # keep a bucket a little past its hour (clock skew between instances)
REBUILD_LOCK_MS = 5000
GEN_FIELD = b"_gen"

# Add a jti to its bucket only if the bucket exists: a new hash without `_gen` is useless.
_ADD_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], 1)
  return 1
end
return 0
"""


def bucket_of(exp: int) -> int:
    return int(exp) // BUCKET_SECONDS


def bucket_key(bucket: int) -> str:
    return f"{REVOKED_PREFIX}{bucket}"


def lock_key(bucket: int) -> str:
    return f"{REVOKED_PREFIX}{bucket}:rebuild"


def bucket_expires_at(bucket: int) -> int:
    return (bucket + 1) * BUCKET_SECONDS + EXPIRY_MARGIN


def revoke(jti: str, user_id: str | None, exp: int) -> None:
    """Durably revoke `jti` until `exp`, then tell this process and the Redis bucket."""
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (jti) DO NOTHING",
            (jti, user_id, datetime.fromtimestamp(int(exp), UTC)),
        )
        value = gen.bump(cur, gen.REVOKED_TOKENS)
    generations.learn(gen.REVOKED_TOKENS, value)
    try:
        redis_store.client.eval(_ADD_IF_EXISTS, 1, bucket_key(bucket_of(exp)), jti)
    except REDIS_ERRORS:
        pass  # the bump already makes every instance distrust that bucket


def commands_for_check(pipe: Any, jti: str, exp: int) -> None:
    """Queue the one revocation read on `pipe` (so a caller can pipeline more reads)."""
    pipe.hmget(bucket_key(bucket_of(exp)), GEN_FIELD, jti)


def answer(reply: list[Any] | None, jti: str, exp: int) -> bool:
    """Interpret the HMGET reply (None when Redis was unreachable): True when revoked."""
    if reply is None:
        return _lookup(jti)
    built_at, entry = reply
    if entry is not None:
        return True
    if built_at is not None and int(built_at) >= generations.required(gen.REVOKED_TOKENS):
        return False
    return _refresh(jti, bucket_of(exp))


def is_revoked(jti: str, exp: int) -> bool:
    """One Redis round trip in the normal case; PostgreSQL when the bucket cannot be trusted."""
    try:
        pipe = redis_store.client.pipeline(transaction=False)
        commands_for_check(pipe, jti, exp)
        reply = pipe.execute()[0]
    except REDIS_ERRORS:
        reply = None
    return answer(reply, jti, exp)


def _lookup(jti: str) -> bool:
    with db.transaction(readonly=True) as cur:
        cur.execute("SELECT 1 FROM revoked_tokens WHERE jti = %s", (jti,))
        return cur.fetchone() is not None


def _refresh(jti: str, bucket: int) -> bool:
    """Rebuild the bucket if no other worker is doing it; a point lookup otherwise."""
    client = redis_store.client
    try:
        if not client.set(lock_key(bucket), 1, nx=True, px=REBUILD_LOCK_MS):
            return _lookup(jti)
    except REDIS_ERRORS:
        return _lookup(jti)
    start = datetime.fromtimestamp(bucket * BUCKET_SECONDS, UTC)
    end = datetime.fromtimestamp((bucket + 1) * BUCKET_SECONDS, UTC)
    with db.transaction(readonly=True) as cur:
        built_at = gen.read(cur, gen.REVOKED_TOKENS)
        cur.execute(
            "SELECT jti FROM revoked_tokens WHERE expires_at >= %s AND expires_at < %s",
            (start, end),
        )
        revoked = {row["jti"] for row in cur.fetchall()}
    generations.learn(gen.REVOKED_TOKENS, built_at)
    _write_bucket(bucket, built_at, revoked)
    return jti in revoked


def _write_bucket(bucket: int, built_at: int, revoked: set[str]) -> None:
    key = bucket_key(bucket)
    try:
        pipe = redis_store.client.pipeline(transaction=True)
        pipe.hset(key, mapping={GEN_FIELD: built_at, **dict.fromkeys(revoked, 1)})
        pipe.expireat(key, bucket_expires_at(bucket))
        pipe.delete(lock_key(bucket))
        pipe.execute()
    except REDIS_ERRORS:
        log.debug("revocation bucket %s not cached (redis unavailable)", bucket)
