"""Flask-Limiter 4.1: its in-memory fallback strategy, and an app without its request hooks.

The service resolves its limits once per app and calls Flask-Limiter's strategy itself
(`marketplace/rate_limits.py`); the extension's own before/after/teardown hooks, which
resolve every limit of every request again, are removed after `init_app`.
"""
from __future__ import annotations

from typing import Any

from flask import Flask
from flask_limiter import Limiter
from limits.strategies import RateLimiter

from marketplace.adapters import gone

PRIVATE = ("Limiter._fallback_limiter",)
_HOOKS = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs")


EXPECTED_HOOKS = 3  # one before, one after and one teardown hook per app (Flask-Limiter 4.1)


def init_without_request_hooks(limiter: Limiter, app: Flask) -> int:
    """`limiter.init_app(app)`, then drop the request hooks it registered (Flask's public
    hook registries, compared before and after); returns how many were dropped. An upgrade
    that registers them another way fails here, at start, instead of counting twice."""
    before = {name: {key: list(funcs) for key, funcs in getattr(app, name).items()}
              for name in _HOOKS}
    limiter.init_app(app)
    dropped = 0
    for name in _HOOKS:
        registry = getattr(app, name)
        for key, funcs in list(registry.items()):
            kept = before[name].get(key, [])
            dropped += len(funcs) - len(kept)
            registry[key] = kept
    if dropped != EXPECTED_HOOKS:
        raise RuntimeError(
            f"Flask-Limiter registered {dropped} request hooks, not {EXPECTED_HOOKS}: "
            "marketplace/adapters/flask_limiter.py must learn how it hooks into requests now")
    return dropped


def fallback_strategy(limiter: Limiter) -> RateLimiter:
    """The in-memory strategy Flask-Limiter counts with while its storage is unreachable
    (RATELIMIT_IN_MEMORY_FALLBACK_ENABLED), built by `init_app` for the latest app."""
    return limiter._fallback_limiter  # type: ignore[return-value]


def check(limiter: Limiter) -> None:
    """Fail with the attribute's name if an upgrade removed what this adapter reads."""
    found: Any = getattr(limiter, "_fallback_limiter", None)
    if not isinstance(found, RateLimiter):
        raise gone("flask_limiter.Limiter._fallback_limiter (the in-memory fallback strategy)",
                   "flask_limiter", "a new way to reach it")
