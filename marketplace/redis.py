"""The one Redis pool of a worker process: its connection budget and its failure policy.

Every Redis user of the service (Flask-Caching, Flask-Limiter, Flask-Session, token
revocation, the user cache, presence, monitoring) goes through the pool built here, so one
instance never opens more than REDIS_MAX_CONNECTIONS and one circuit breaker decides, for
all of them at once, whether Redis is worth asking. While the breaker is open every command
fails at once with `RedisUnavailable` (a `redis.ConnectionError`) instead of waiting for a
timeout; one caller per probe interval is let through to find out whether Redis is back.
Outages are logged once when they start and once when they end.

The failure policy is applied here, not at each call site. A consumer picks one of two
named ways to use Redis:

- `@degrade(default)`: while Redis fails, the helper returns `default` and the request
  goes on without what Redis would have given (a cache, a session, a counter);
- `@require(message)`: while Redis fails, the request answers 503 `service_unavailable`.

`RedisHandle.round_trip(*commands)` sends several commands in one write and reads every
reply: the hot paths (a cached read, a bearer check) need exactly one round trip each.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from flask import current_app
from redis.backoff import ExponentialBackoff
from redis.connection import BlockingConnectionPool, Connection, SSLConnection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from marketplace.adapters import redis as pool_adapter
from marketplace.errors import ServiceUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

# Any failure of a Redis call (a transport failure, or an error reply such as OOM): what the
# policies below turn into "degraded" or "503".
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)


class RedisUnavailable(RedisConnectionError):
    """Redis is known to be down; the command was not sent."""


class CircuitBreaker:
    """Per-process knowledge of whether Redis answers, shared by every connection."""

    def __init__(self, probe_interval: float) -> None:
        self.probe_interval = probe_interval
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._next_probe = 0.0
        self.errors = 0  # failed connects and timeouts seen by this process
        self.outages = 0  # outages this process has seen start
        self.down_since: float | None = None  # wall-clock start of the current outage
        self._on_outage: list[Callable[[], None]] = []

    @property
    def is_open(self) -> bool:
        return self._down_since is not None

    def on_outage(self, callback: Callable[[], None]) -> None:
        """Run `callback` whenever an outage starts (as this process sees it)."""
        self._on_outage.append(callback)

    def allow(self) -> bool:
        """True when a command may be sent: Redis is up, or this caller is the probe."""
        if self._down_since is None:
            return True
        with self._lock:
            now = time.monotonic()
            if now >= self._next_probe:
                self._next_probe = now + self.probe_interval
                return True
        return False

    def record_failure(self, exc: BaseException) -> None:
        with self._lock:
            self.errors += 1
            self._next_probe = time.monotonic() + self.probe_interval
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
            self.down_since = time.time()
            self.outages += 1
        log.warning("redis unavailable, degrading until it answers: %s", _reason(exc))
        _run_hooks(self._on_outage)

    def record_success(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is None:
                return
            outage = time.monotonic() - self._down_since
            self._down_since = None
            self.down_since = None
        log.warning("redis available again after %.1f s", outage)


def _run_hooks(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:  # a hook must never break the request that saw the change
            log.exception("redis breaker hook failed")


def _reason(exc: BaseException) -> str:
    """A short reason, never a full server reply."""
    return f"{type(exc).__name__}: {str(exc)[:120]}"


class _BreakerConnectionMixin:
    """Reports connect and read failures of a connection to the process's breaker."""

    breaker: CircuitBreaker

    def connect(self) -> None:  # type: ignore[override]
        try:
            super().connect()  # type: ignore[misc]
        except REDIS_ERRORS as exc:
            self.breaker.record_failure(exc)
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().read_response(*args, **kwargs)  # type: ignore[misc]
        except (RedisTimeoutError, TimeoutError) as exc:
            self.breaker.record_failure(exc)
            raise
        self.breaker.record_success()
        return response


class _GuardedPool(BlockingConnectionPool):
    """A blocking pool that refuses at once while the breaker is open, with a lean checkout
    (`adapters/redis.py`): one of these operations per Redis round trip."""

    breaker: CircuitBreaker

    def get_connection(self, *args: Any, **kwargs: Any) -> Connection:
        if not self.breaker.allow():
            raise RedisUnavailable("redis unavailable (circuit open)")
        return pool_adapter.checkout(self)

    def release(self, connection: Connection) -> None:
        pool_adapter.checkin(self, connection)


def per_process_budget(max_connections: int, workers: int) -> int:
    """Split the instance's connection budget among its worker processes."""
    return max(1, max_connections // max(1, workers))


class RedisHandle:
    """One app's pool, client and breaker (one app per worker process in production)."""

    def __init__(self, cfg: Any) -> None:
        self.url: str = cfg["REDIS_URL"]
        self.breaker = CircuitBreaker(cfg["REDIS_PROBE_INTERVAL"])
        self.budget = per_process_budget(cfg["REDIS_MAX_CONNECTIONS"], cfg["WEB_CONCURRENCY"])
        self.pool = self._build_pool(cfg)
        self.client = redis.Redis(connection_pool=self.pool)

    def _build_pool(self, cfg: Any) -> _GuardedPool:
        kwargs = parse_url(self.url)
        base = kwargs.pop("connection_class", Connection)
        if base not in (Connection, SSLConnection):
            raise ValueError("REDIS_URL must be a redis:// or rediss:// URL")
        breaker = self.breaker
        connection_class = type(
            f"Breaker{base.__name__}", (_BreakerConnectionMixin, base), {"breaker": breaker}
        )
        pool_class = type("GuardedPool", (_GuardedPool,), {"breaker": breaker})
        # redis-py pools notice a fork (_checkpid) and start empty in the child, so a pool
        # built before gunicorn forks never shares a socket between processes.
        return pool_class(
            max_connections=self.budget,
            timeout=cfg["REDIS_POOL_TIMEOUT"],
            connection_class=connection_class,
            socket_connect_timeout=cfg["REDIS_CONNECT_TIMEOUT"],
            socket_timeout=cfg["REDIS_SOCKET_TIMEOUT"],
            socket_keepalive=True,
            retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), cfg["REDIS_RETRIES"]),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            health_check_interval=30,
            client_name="marketplace",
            **kwargs,
        )

    def round_trip(self, *commands: tuple[Any, ...]) -> list[Any]:
        """Send `commands` in one write and read their raw replies: one round trip.

        A reply that is a Redis error (NOSCRIPT, WRONGTYPE...) is returned in its place, as a
        pipeline does; a transport failure is retried on a fresh connection as the pool's
        `Retry` allows (REDIS_RETRIES), then raised. Replies are what the server sent (bytes,
        ints, lists), without redis-py's per-command conversions.
        """
        conn = self.pool.get_connection()
        try:
            return conn.retry.call_with_retry(
                lambda: _send_and_read(conn, commands), lambda _error: conn.disconnect()
            )
        finally:
            self.pool.release(conn)

    def ping(self) -> float:
        """Round-trip time in ms; raises a REDIS_ERRORS member when Redis is down."""
        start = time.perf_counter()
        self.client.ping()
        return (time.perf_counter() - start) * 1000

    def run_script(self, script: Script, keys: list[str], args: list[Any]) -> Any:
        """One round trip: EVALSHA of a script the service owns; EVAL (which loads it) in a
        second one only when Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH)."""
        [reply] = self.round_trip(("EVALSHA", script.sha, len(keys), *keys, *args))
        if isinstance(reply, NoScriptError):
            [reply] = self.round_trip(("EVAL", script.text, len(keys), *keys, *args))
        if isinstance(reply, Exception):
            raise reply
        return reply

    def in_use(self) -> int:
        """Connections of this process's pool lent out right now (redis-py's own count)."""
        return sum(count for count, attributes in self.pool.get_connection_count()
                   if attributes.get("db.client.connection.state") == "used")

    def close(self) -> None:
        self.pool.disconnect()


def _send_and_read(conn: Connection, commands: tuple[tuple[Any, ...], ...]) -> list[Any]:
    conn.send_packed_command(conn.pack_commands(commands))
    replies: list[Any] = []
    for _ in commands:
        try:
            replies.append(conn.read_response())
        except ResponseError as exc:  # consumed: the connection stays in step
            replies.append(exc)
    return replies


class Script:
    """A Lua script the service sends by its SHA1 (`RedisHandle.run_script`)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (Redis's script id)


class RedisManager:
    """The extension: `redis_store.client` is the current app's shared client."""

    def init_app(self, app: Any) -> RedisHandle:
        """Build the app's pool; no connection is opened until the first command."""
        handle = RedisHandle(app.config)
        app.extensions["redis"] = handle
        return handle

    @property
    def handle(self) -> RedisHandle:
        return current_app.extensions["redis"]

    @property
    def client(self) -> redis.Redis:
        return current_app.extensions["redis"].client


def degrade(default: Any = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """While Redis fails, the decorated helper returns `default` (called, if callable).

    The breaker has already logged the outage; callers only choose what "degraded" means.
    """

    def decorate(func: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            try:
                return func(*args, **kwargs)
            except REDIS_ERRORS:
                return default() if callable(default) else default

        return wrapper

    return decorate


def require(message: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """While Redis fails, the decorated helper raises 503 `service_unavailable`: for what
    cannot be answered without Redis (online presence, the Redis figures themselves)."""

    def decorate(func: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            try:
                return func(*args, **kwargs)
            except REDIS_ERRORS as exc:
                raise ServiceUnavailable(message) from exc

        return wrapper

    return decorate
