"""Configuration classes read from the environment; production checks its secrets."""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, MutableMapping
from datetime import timedelta
from typing import Any

from marketplace import keys


class ConfigError(RuntimeError):
    """A required setting is missing or malformed; the process must not start."""


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def normalise_database_url(url: str | None) -> str | None:
    """Heroku-style `postgres://` URLs are accepted and rewritten (as microblog does)."""
    if url and url.startswith("postgres://"):
        return "postgresql://" + url[len("postgres://"):]
    return url


class Config:
    """Values shared by every environment; subclasses differ only in values.

    Every setting the service and its libraries read is here: the environment's values are
    read in `__init__`, overrides (tests, the bench) are applied as plain values by
    `load_config`, and what libraries derive from them is computed last, in `_derive`.
    """

    APP_ENV = "development"
    REQUIRED: tuple[str, ...] = ()
    DEBUG = False
    TESTING = False
    SESSION_COOKIE_SECURE = False
    HSTS = False
    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105 (a hash method, not a password)

    # Flask-Session: server-side sessions in the shared Redis, random ids, created at login.
    SESSION_TYPE = "redis"
    SESSION_PERMANENT = True
    SESSION_USE_SIGNER = False  # deprecated in Flask-Session 0.8; ids are 32 random bytes
    SESSION_ID_LENGTH = 32
    SESSION_SERIALIZATION_FORMAT = "msgpack"
    SESSION_COOKIE_NAME = "session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # flask-jwt-extended: HS256 pinned, bearer tokens only.
    JWT_ALGORITHM = "HS256"
    JWT_DECODE_ALGORITHMS = ("HS256",)
    JWT_TOKEN_LOCATION = ("headers",)
    # Flask-Limiter: fixed windows in the shared Redis, counted in memory while it is down.
    RATELIMIT_STRATEGY = "fixed-window"
    RATELIMIT_HEADERS_ENABLED = False
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    # Flask-Caching: its client is the shared one (handed over by the factory).
    CACHE_TYPE = "RedisCache"
    CACHE_KEY_PREFIX = keys.CACHE

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.REDIS_URL = env.get("REDIS_URL")
        self.DATABASE_URL = normalise_database_url(env.get("DATABASE_URL"))
        self.SESSION_SECRET = env.get("SESSION_SECRET")
        self.JWT_SECRET = env.get("JWT_SECRET")

        self.ACCESS_TOKEN_TTL = _int(env, "ACCESS_TOKEN_TTL", 900)
        self.REFRESH_TOKEN_TTL = _int(env, "REFRESH_TOKEN_TTL", 2_592_000)
        self.SESSION_LIFETIME = _int(env, "SESSION_LIFETIME", 86_400)

        # Redis connection budget and failure policy (see marketplace/redis.py).
        self.REDIS_MAX_CONNECTIONS = _int(env, "REDIS_MAX_CONNECTIONS", 10)
        self.WEB_CONCURRENCY = _int(env, "WEB_CONCURRENCY", 2)
        self.REDIS_CONNECT_TIMEOUT = _float(env, "REDIS_CONNECT_TIMEOUT", 0.25)
        self.REDIS_SOCKET_TIMEOUT = _float(env, "REDIS_SOCKET_TIMEOUT", 0.25)
        self.REDIS_POOL_TIMEOUT = _float(env, "REDIS_POOL_TIMEOUT", 1.0)
        self.REDIS_RETRIES = _int(env, "REDIS_RETRIES", 1)
        self.REDIS_PROBE_INTERVAL = _float(env, "REDIS_PROBE_INTERVAL", 1.0)

        # PostgreSQL pool (see marketplace/db.py).
        self.DB_POOL_MAX = _int(env, "DB_POOL_MAX", 10)
        self.DB_CONNECT_TIMEOUT = _int(env, "DB_CONNECT_TIMEOUT", 1)
        self.DB_STATEMENT_TIMEOUT_MS = _int(env, "DB_STATEMENT_TIMEOUT_MS", 5000)
        self.DB_POOL_TIMEOUT = _float(env, "DB_POOL_TIMEOUT", 1.0)

        self.TRUSTED_PROXY_COUNT = _int(env, "TRUSTED_PROXY_COUNT", 0)
        self.AUTH_RATE_LIMIT = env.get("AUTH_RATE_LIMIT", "5 per 15 minutes")
        self.LOGIN_FAILURE_LIMIT = env.get("LOGIN_FAILURE_LIMIT", "5 per 15 minutes")
        self.PROJECTS_RATE_LIMIT = env.get("PROJECTS_RATE_LIMIT", "100 per 15 minutes")

        self.CACHE_DEFAULT_TIMEOUT = _int(env, "CACHE_DEFAULT_TIMEOUT", 300)
        self.SUMMARY_CACHE_TIMEOUT = _int(env, "SUMMARY_CACHE_TIMEOUT", 60)
        # Redis's memory limit when it reports no maxmemory (Render's free Key Value: 25 MB).
        self.REDIS_MEMORY_LIMIT = _int(env, "REDIS_MEMORY_LIMIT", 25_000_000)
        self.USER_CACHE_TTL = _int(env, "USER_CACHE_TTL", 300)
        self.ACTIVE_USER_WINDOW = _int(env, "ACTIVE_USER_WINDOW", 900)

        self.ALERT_MEMORY_BYTES = _int(env, "ALERT_MEMORY_BYTES", 20_000_000)
        self.ALERT_CONNECTIONS = _int(env, "ALERT_CONNECTIONS", 8)
        self.ALERT_KEYS = _int(env, "ALERT_KEYS", 1000)
        # Seconds between two in-request threshold checks (0 = off; off in tests, where it
        # would add INFO commands to other tests' command counts).
        self.ALERT_CHECK_INTERVAL = _int(env, "ALERT_CHECK_INTERVAL", 0 if self.TESTING else 60)

        # The admin that every start creates or updates (`flask --app marketplace
        # bootstrap-admin`, run by bin/start); unset or empty: no admin is touched.
        self.ADMIN_EMAIL = env.get("ADMIN_EMAIL") or None
        self.ADMIN_PASSWORD = env.get("ADMIN_PASSWORD") or None
        self.ADMIN_NAME = env.get("ADMIN_NAME") or None

        self.MAX_CONTENT_LENGTH = _int(env, "MAX_CONTENT_LENGTH", 1_048_576)
        self.LOG_LEVEL = env.get("LOG_LEVEL", "INFO")

    def _derive(self) -> None:
        """Library settings computed from ours (after overrides, so they follow them)."""
        missing = [name for name in self.REQUIRED if not getattr(self, name, None)]
        if missing:
            raise ConfigError(
                f"APP_ENV={self.APP_ENV} requires {', '.join(missing)} to be set "
                f"(missing: {', '.join(missing)})"
            )
        self.SECRET_KEY = self.SESSION_SECRET
        self.PERMANENT_SESSION_LIFETIME = timedelta(seconds=self.SESSION_LIFETIME)
        self.JWT_SECRET_KEY = self.JWT_SECRET
        self.JWT_ACCESS_TOKEN_EXPIRES = timedelta(seconds=self.ACCESS_TOKEN_TTL)
        self.JWT_REFRESH_TOKEN_EXPIRES = timedelta(seconds=self.REFRESH_TOKEN_TTL)


class DevelopmentConfig(Config):
    """Local runs: `make run` starts embedded servers and sets the URLs and secrets."""

    APP_ENV = "development"
    REQUIRED = ("REDIS_URL", "DATABASE_URL", "SESSION_SECRET", "JWT_SECRET")


class TestingConfig(Config):
    """The test suite passes its own URLs; password hashing is cheap here only."""

    APP_ENV = "testing"
    TESTING = True
    PASSWORD_HASH_METHOD = "scrypt:1024:8:1"  # noqa: S105


class ProductionConfig(Config):
    """Render: every URL and secret must come from the environment."""

    APP_ENV = "production"
    REQUIRED = ("REDIS_URL", "DATABASE_URL", "SESSION_SECRET", "JWT_SECRET")
    SESSION_COOKIE_SECURE = True
    HSTS = True


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load_config(environ: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None) -> Config:
    """The config class named by APP_ENV, read from the environment, then `overrides` applied
    as plain values (typed: no string round trip), then the library settings derived."""
    env = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    name = overrides.get("APP_ENV") or env.get("APP_ENV", "development")
    try:
        config_class = CONFIGS[name]
    except KeyError:
        raise ConfigError(
            f"APP_ENV must be one of {', '.join(CONFIGS)}, got {name!r}"
        ) from None
    config = config_class(env)
    for key, value in overrides.items():
        setattr(config, key, value)
    config._derive()
    return config


def development_secrets(environ: MutableMapping[str, str]) -> None:
    """Outside production, signing keys the environment lacks are generated once per start
    (by whoever starts the processes: `make run`, gunicorn's master) and shared by every
    worker through the environment. Production refuses to start without them instead."""
    if environ.get("APP_ENV", "development") == "production":
        return
    for name in ("SESSION_SECRET", "JWT_SECRET"):
        environ.setdefault(name, secrets.token_urlsafe(48))
