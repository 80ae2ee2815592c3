"""Rate limits: Flask-Limiter's limits resolved once per app, and the one call a request makes.

Flask-Limiter stays the service's limiter: its storage (the shared Redis, on the one pool),
its limit strings (`AUTH_RATE_LIMIT`...), its fixed-window strategy, its 429
(`RateLimitExceeded`) and its in-memory fallback. What the service does not use is its
automatic per-request resolution: hooks that look up every limit of every request again cost
more Python than the rest of a cached read (bench/results.md). Instead:

- `init_app` resolves each `ServiceLimit` once per app (Flask-Limiter's `Limit`), keeps the
  app's storage and strategies, and removes the extension's request hooks;
- a route calls `hit(LIMIT)`; the response cache calls `hit_and_read(LIMIT, keys)`, which
  counts and reads the cache entry in the same round trip;
- `counting_failures(LIMIT, key)` counts an attempt before it is made and gives it back if
  it succeeds, so concurrent failures can never exceed the limit (the failed-login limit).

While Redis fails (the breaker refuses at once), counting goes to Flask-Limiter's in-memory
fallback of the process. A process whose breaker is open lets one request per
REDIS_PROBE_INTERVAL try Redis, with its own count: so within that interval after Redis is
back, every process counts in Redis again.
"""
from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, current_app
from flask_limiter import Limit, RateLimitExceeded
from limits.strategies import RateLimiter

from marketplace import keys
from marketplace.adapters import flask_limiter as limiter_adapter
from marketplace.adapters import limits as limits_adapter
from marketplace.errors import InvalidCredentials
from marketplace.network import client_address
from marketplace.redis import REDIS_ERRORS, degrade

if TYPE_CHECKING:
    from flask_limiter._limits import RuntimeLimit

    from marketplace.redis import RedisHandle

T = TypeVar("T")


@dataclass(frozen=True)
class ServiceLimit:
    """One limit of the service: its scope (part of the counter's key), the setting that holds
    its limit string, and who is counted (the client address unless a caller says)."""

    scope: str
    setting: str
    key: Callable[[], str] = client_address


PROJECTS = ServiceLimit("projects", "PROJECTS_RATE_LIMIT")  # every route of /projects
AUTH = ServiceLimit("auth", "AUTH_RATE_LIMIT")  # register, login, refresh, password change
LOGIN_FAILURES = ServiceLimit("login-failures", "LOGIN_FAILURE_LIMIT")  # per account
LIMITS = (PROJECTS, AUTH, LOGIN_FAILURES)
COUNTER_KEYS = 10_000  # clients whose counter keys a process remembers


def account_key(email: str) -> str:
    """The failed-login counter of an e-mail: hashed, so no address is ever a Redis key."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"login-email:{digest}"


@dataclass
class AppLimits:
    """What one app counts with: the resolved limits and Flask-Limiter's strategies."""

    storage: Any
    main: RateLimiter
    fallback: RateLimiter
    script_sha: str
    resolved: dict[str, list[RuntimeLimit]] = field(default_factory=dict)
    # (scope, client) -> the storage keys and windows of its counters: built once per
    # client, not per request (bounded: cleared when it holds COUNTER_KEYS entries).
    counter_keys: dict[tuple[str, str], list[tuple[str, int, int]]] = field(
        default_factory=dict)


def init_app(app: Flask) -> None:
    """Initialise Flask-Limiter on the app's Redis pool, without its per-request hooks, and
    resolve every limit string of the app once."""
    from marketplace.extensions import limiter

    limiter_adapter.init_without_request_hooks(limiter, app)
    state = AppLimits(storage=limiter.storage, main=limiter.limiter,
                      fallback=limiter_adapter.fallback_strategy(limiter),
                      script_sha=limits_adapter.incr_script_sha(limiter.storage))
    for limit in LIMITS:
        definition = Limit(app.config[limit.setting], key_function=limit.key,
                           scope=limit.scope, shared=True)
        state.resolved[limit.scope] = list(definition)
    app.extensions["rate_limits"] = state


def _state() -> AppLimits:
    return current_app.extensions["rate_limits"]


def _breach(strategy: RateLimiter, item: RuntimeLimit, identifiers: tuple[str, str]) -> None:
    """Raise the 429 for `item`, with when its window resets and what is left of it."""
    exc = RateLimitExceeded(item)
    window = _window(strategy, item, identifiers)
    if window is not None:
        exc.window = window  # type: ignore[attr-defined]
    raise exc


@degrade(None)  # Redis gone meanwhile: the 429 goes out with a one-second Retry-After
def _window(strategy: RateLimiter, item: RuntimeLimit,
            identifiers: tuple[str, str]) -> tuple[float, int]:
    stats = strategy.get_window_stats(item.limit, *identifiers)
    return stats.reset_time, stats.remaining


def _hit(state: AppLimits, items: list[RuntimeLimit], identifiers: tuple[str, str],
         cost: int = 1) -> RateLimiter:
    """Count against every item; the strategy that counted (Redis, or the fallback)."""
    strategy = state.main
    try:
        passed = [strategy.hit(item.limit, *identifiers, cost=cost) for item in items]
    except REDIS_ERRORS:  # not `degrade`: the policy here is Flask-Limiter's fallback, which
        strategy = state.fallback  # counts the same request again, in memory
        passed = [strategy.hit(item.limit, *identifiers, cost=cost) for item in items]
    for item, ok in zip(items, passed, strict=True):
        if not ok:
            _breach(strategy, item, identifiers)
    return strategy


def hit(limit: ServiceLimit, key: str | None = None) -> None:
    """Count one request against `limit`; 429 `rate_limited` when it is over."""
    state = _state()
    _hit(state, state.resolved[limit.scope], (key or limit.key(), limit.scope))


def limited(limit: ServiceLimit) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorate a view: the request counts against `limit` before anything else is checked
    (credentials, input), as every request of a limited route does."""

    def decorate(view: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> T:
            hit(limit)
            return view(*args, **kwargs)

        return wrapper

    return decorate


@contextmanager
def counted_if_refused(limit: ServiceLimit) -> Iterator[None]:
    """For a route that counts later (a cached read, in its cache round trip): a request
    refused before that point still counts."""
    try:
        yield
    except Exception:
        hit(limit)
        raise


def hit_and_read(limit: ServiceLimit, read_keys: list[str]) -> list[Any] | None:
    """Count one request and MGET `read_keys` in the same round trip: the values, or None
    when they could not be read with the count (the caller reads them itself)."""
    return count_and_read(_state(), current_app.extensions["redis"], limit, limit.key(),
                          read_keys)


def count_and_read(state: AppLimits, handle: RedisHandle, limit: ServiceLimit, client: str,
                   read_keys: list[str]) -> list[Any] | None:
    """`hit_and_read` for a caller that holds the app's parts itself (`front.py`): count
    `client` against `limit` and MGET `read_keys` in one round trip; 429 when over."""
    items = state.resolved[limit.scope]
    identifiers = (client, limit.scope)
    counters = state.counter_keys.get(identifiers)
    if counters is None:
        counters = _counter_keys(state, items, identifiers)
    commands: list[tuple[Any, ...]] = [
        ("EVALSHA", state.script_sha, 1, key, expiry, 1) for key, expiry, _ in counters]
    commands.append(("MGET", *read_keys))
    replies = _send(handle, commands)
    if replies is None:
        _hit(state, items, identifiers)  # Redis is down: the fallback counts; 429 when over
        return None
    counts, values = replies[:-1], replies[-1]
    if any(isinstance(count, Exception) for count in counts):
        _hit(state, items, identifiers)  # NOSCRIPT (Redis lost its scripts): the plain path
    else:
        for item, count, (_, _, amount) in zip(items, counts, counters, strict=True):
            if int(count) > amount:
                _breach(state.main, item, identifiers)
    return values if isinstance(values, list) else None


def _counter_keys(state: AppLimits, items: list[RuntimeLimit],
                  identifiers: tuple[str, str]) -> list[tuple[str, int, int]]:
    """The keys `limits` would count `identifiers` under, with each window and amount."""
    if len(state.counter_keys) >= COUNTER_KEYS:
        state.counter_keys.clear()
    counters = [(state.storage.prefixed_key(item.limit.key_for(*identifiers)),
                 item.limit.get_expiry(), item.limit.amount) for item in items]
    state.counter_keys[identifiers] = counters
    return counters


@contextmanager
def counting_failures(limit: ServiceLimit, key: str) -> Iterator[None]:
    """Count an attempt before it is made (429 when no attempt is left) and give it back
    unless the block fails with `InvalidCredentials`: of N concurrent failures exactly the
    limit's amount get through, whatever their timing."""
    state = _state()
    items = state.resolved[limit.scope]
    identifiers = (key, limit.scope)
    strategy = _hit(state, items, identifiers)
    try:
        yield
    except InvalidCredentials:
        raise
    except BaseException:
        _give_back(strategy, items, identifiers)
        raise
    _give_back(strategy, items, identifiers)


@degrade(None)  # Redis down: the count stays one too high until its window ends (fail closed)
def _give_back(strategy: RateLimiter, items: list[RuntimeLimit],
               identifiers: tuple[str, str]) -> None:
    for item in items:
        strategy.storage.incr(item.limit.key_for(*identifiers), item.limit.get_expiry(),
                              amount=-1)


@degrade(None)
def _send(handle: RedisHandle, commands: list[tuple[Any, ...]]) -> list[Any] | None:
    return handle.round_trip(*commands)


def storage_options(redis_pool: Any) -> dict[str, Any]:
    """Flask-Limiter's storage on the shared pool, under the rate-limit prefix of keys.py."""
    return {"connection_pool": redis_pool, "key_prefix": keys.RATE_LIMIT_STORAGE_PREFIX}
