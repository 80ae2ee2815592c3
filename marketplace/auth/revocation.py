"""Revoked tokens: PostgreSQL is the truth, Redis a per-hour cache that knows if it is complete.

Key layout (`keys.revoked_bucket`): one HASH per expiry hour (`exp // 3600`), with a field
per revoked jti and the field `_gen`, the
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
from marketplace import keys
from marketplace.errors import ServiceUnavailable
from marketplace.extensions import db, generations, redis_store
from marketplace.redis import degrade

log = logging.getLogger(__name__)

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
    return int(exp) // keys.REVOKED_BUCKET_SECONDS


def bucket_expires_at(bucket: int) -> int:
    return (bucket + 1) * keys.REVOKED_BUCKET_SECONDS + keys.REVOKED_EXPIRY_MARGIN


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
    _add_to_bucket(jti, exp)


# Redis unavailable: the bump already makes every instance distrust that bucket.
@degrade(None)
def _add_to_bucket(jti: str, exp: int) -> None:
    redis_store.client.eval(_ADD_IF_EXISTS, 1, keys.revoked_bucket(bucket_of(exp)), jti)


def check_command(jti: str, exp: int) -> tuple[Any, ...]:
    """The one revocation read, for a caller to send in its own round trip."""
    return ("HMGET", keys.revoked_bucket(bucket_of(exp)), GEN_FIELD, jti)


def answer(reply: Any, jti: str, exp: int) -> bool:
    """Interpret the HMGET reply (None when Redis was unreachable): True when revoked."""
    if not isinstance(reply, list):
        return _lookup(jti)
    built_at, entry = reply
    if entry is not None:
        return True
    if built_at is not None and int(built_at) >= generations.required(gen.REVOKED_TOKENS):
        return False
    return _refresh(jti, bucket_of(exp))


def is_revoked(jti: str, exp: int) -> bool:
    """One Redis round trip in the normal case; PostgreSQL when the bucket cannot be trusted."""
    return answer(_read(jti, exp), jti, exp)


@degrade(None)
def _read(jti: str, exp: int) -> Any:
    return redis_store.handle.round_trip(check_command(jti, exp))[0]


def _lookup(jti: str) -> bool:
    with db.transaction(readonly=True) as cur:
        cur.execute("SELECT 1 FROM revoked_tokens WHERE jti = %s", (jti,))
        return cur.fetchone() is not None


def _refresh(jti: str, bucket: int) -> bool:
    """Rebuild the bucket if no other worker is doing it; a point lookup otherwise."""
    if not _lock_rebuild(bucket):
        return _lookup(jti)
    start = datetime.fromtimestamp(bucket * keys.REVOKED_BUCKET_SECONDS, UTC)
    end = datetime.fromtimestamp((bucket + 1) * keys.REVOKED_BUCKET_SECONDS, UTC)
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


@degrade(False)
def _lock_rebuild(bucket: int) -> bool:
    """True when this worker may rebuild the bucket (no other one is doing it)."""
    return bool(redis_store.client.set(keys.revoked_rebuild_lock(bucket), 1, nx=True,
                                       px=keys.REVOKED_REBUILD_LOCK_MS))


# Redis unavailable: the bucket is simply not cached; the next check rebuilds it.
@degrade(None)
def _write_bucket(bucket: int, built_at: int, revoked: set[str]) -> None:
    key = keys.revoked_bucket(bucket)
    pipe = redis_store.client.pipeline(transaction=True)
    pipe.hset(key, mapping={GEN_FIELD: built_at, **dict.fromkeys(revoked, 1)})
    pipe.expireat(key, bucket_expires_at(bucket))
    pipe.delete(keys.revoked_rebuild_lock(bucket))
    pipe.execute()


# Trimming `revoked_tokens`: a row is useless once its token has expired (it is refused as
# expired anyway). Rows are kept REVOKED_EXPIRY_MARGIN seconds past their expiry, as the
# Redis buckets are, for an instance whose clock runs behind PostgreSQL's. Run by
# `flask --app marketplace cleanup` and, about once an hour, by each process's periodic work.
# Any lock id works; it only has to be the same for every instance (see migrate.py's).
TRIM_LOCK_ID = 7_215_304_119
TRIM_BATCH = 5_000  # rows per DELETE: one statement stays far below the statement timeout


def trim_expired(batch: int = TRIM_BATCH, *, wait: bool = False) -> int | None:
    """Delete up to `batch` expired rows, oldest first; the number deleted.

    A transaction-level advisory lock keeps two processes from deleting the same rows:
    with `wait` the caller queues behind another trimmer, without it (the periodic trim)
    it returns None at once and leaves the work to the one already doing it.
    """
    with db.transaction() as cur:
        if wait:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (TRIM_LOCK_ID,))
        else:
            cur.execute("SELECT pg_try_advisory_xact_lock(%s) AS locked", (TRIM_LOCK_ID,))
            if not cur.fetchone()["locked"]:
                return None
        cur.execute(
            "DELETE FROM revoked_tokens WHERE jti IN ("
            " SELECT jti FROM revoked_tokens"
            " WHERE expires_at < now() - make_interval(secs => %s)"
            " ORDER BY expires_at LIMIT %s)",
            (keys.REVOKED_EXPIRY_MARGIN, batch),
        )
        return cur.rowcount


def trim_all_expired(batch: int = TRIM_BATCH) -> int:
    """Every expired row, batch after batch (the cleanup command): the number deleted."""
    removed = 0
    while True:
        deleted = trim_expired(batch, wait=True) or 0
        removed += deleted
        if deleted < batch:
            return removed


def periodic_trim() -> None:
    """One bounded batch of expired rows (a job of `marketplace/periodic.py`, about once an
    hour per process); skipped while another process trims. A database outage is logged
    (by db.py, and here) and never reaches the client."""
    try:
        removed = trim_expired()
    except ServiceUnavailable as exc:
        log.warning("revoked_tokens trim skipped: %s", type(exc).__name__)
        return
    if removed:
        log.info("revoked_tokens trim: removed %d expired row(s)", removed)
