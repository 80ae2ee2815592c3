"""Every Redis key the service writes: its prefix, how its name is built, how long it lives.

The README's key table is this module read aloud. No other module spells a prefix: they call
the builders below, monitoring counts keys by `PREFIXES`, and the key-hygiene test checks that
a full workload leaves no key outside them and none without a TTL. Lifetimes that are settings
(`CACHE_DEFAULT_TIMEOUT`, `USER_CACHE_TTL`, `SESSION_LIFETIME`, `ACTIVE_USER_WINDOW`) live in
`config.py`; the fixed ones live here.
"""
from __future__ import annotations

CACHE = "cache:"  # cached responses, the list marker, single-flight locks (Flask-Caching's prefix)
RATE_LIMIT = "rate-limit:"  # Flask-Limiter's counters, one per window
SESSION = "session:"  # server-side sessions (Flask-Session), created only at login
USER = "user:"  # cached public user records
REVOKED = "jwt:revoked:"  # revoked token ids, one hash per expiry hour
ACTIVE = "active:"  # online presence
STATS = "stats:"  # the service's own counters and history

# In the order redis-stats lists them; anything else is counted as `other`.
PREFIXES = (CACHE, RATE_LIMIT, SESSION, USER, REVOKED, ACTIVE, STATS)

# --- cache: ------------------------------------------------------------------------------
# Flask-Caching prepends CACHE to the names it is given; the hot paths read the same keys in
# pipelines of their own, so both sides build names here.
PROJECTS_MARKER = "projects:generation"  # newest projects write announced through Redis
CACHE_LOCK_TTL_MS = 2000  # a miss being computed by one process


def cache_key(name: str) -> str:
    """The full Redis key of a cache entry (or marker) called `name`."""
    return CACHE + name


def cache_lock(name: str) -> str:
    """Held (SET NX PX) while one process computes the entry `name`."""
    return f"{CACHE}lock:{name}"


# --- rate-limit: -------------------------------------------------------------------------
# The `limits` storage joins its prefix and the counter's name with ":".
RATE_LIMIT_STORAGE_PREFIX = RATE_LIMIT.rstrip(":")

# --- user: -------------------------------------------------------------------------------


def user(user_id: str) -> str:
    """The cached public record of one user (never the password hash)."""
    return f"{USER}{user_id}"


# --- jwt:revoked: ------------------------------------------------------------------------
REVOKED_BUCKET_SECONDS = 3600  # one hash per hour of expiry
REVOKED_EXPIRY_MARGIN = 300  # a bucket outlives its hour a little (clock skew)
REVOKED_REBUILD_LOCK_MS = 5000  # one worker rebuilds a bucket from PostgreSQL


def revoked_bucket(bucket: int) -> str:
    return f"{REVOKED}{bucket}"


def revoked_rebuild_lock(bucket: int) -> str:
    return f"{REVOKED}{bucket}:rebuild"


# --- active: -----------------------------------------------------------------------------
ACTIVE_USERS = f"{ACTIVE}users"  # sorted set: user id -> time of last activity

# --- stats: ------------------------------------------------------------------------------
COUNTERS = f"{STATS}counters"  # the service's counters summed over workers and instances
COUNTERS_TTL = 7 * 86_400  # refreshed by every flush: gone only if nobody counts for a week

# The operator console's chart: a list of Redis samples, one per ALERT_CHECK_INTERVAL across
# every process and instance (the one that sets the claim takes the sample), pushed, trimmed
# and given its TTL in one round trip. An hour of samples at an interval of 10 s or more.
HISTORY = f"{STATS}history"
HISTORY_CLAIM = f"{STATS}history:claim"  # SET NX PX: this interval's sample is being taken
HISTORY_LENGTH = 360  # samples kept at most (newest last)
HISTORY_TTL = 3600  # refreshed by every sample: an hour without one leaves nothing to show
