"""Marketplace API: a Flask JSON service on one shared Redis and PostgreSQL."""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config, load_config


def create_app(config: Config | Mapping[str, Any] | None = None) -> Flask:
    """Build the app; `config` is a Config instance or a mapping of overrides."""
    app = Flask(__name__)
    load_settings(app, config)
    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    return app


def load_settings(app: Flask, config: Config | Mapping[str, Any] | None) -> None:
    """APP_ENV's config class, then the caller's overrides; derived library settings last."""
    from marketplace.response_cache import KEY_PREFIX

    if isinstance(config, Config):
        app.config.from_object(config)
    else:
        overrides = dict(config or {})
        scalars = {k: str(v) for k, v in overrides.items() if isinstance(v, (str, int, float))}
        app.config.from_object(load_config({**os.environ, **scalars}))
        app.config.update(overrides)
    cfg = app.config
    cfg.update(
        SECRET_KEY=cfg["SESSION_SECRET"],
        JSON_SORT_KEYS=False,
        # Flask-Session: server-side, random ids, created only at login.
        SESSION_TYPE="redis",
        SESSION_PERMANENT=True,
        SESSION_USE_SIGNER=False,  # deprecated in 0.8; ids are 32 random bytes anyway
        SESSION_ID_LENGTH=32,
        SESSION_SERIALIZATION_FORMAT="msgpack",
        SESSION_COOKIE_NAME="session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=cfg["SESSION_LIFETIME"]),
        # flask-jwt-extended: HS256 pinned, bearer tokens only.
        JWT_SECRET_KEY=cfg["JWT_SECRET"],
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=cfg["ACCESS_TOKEN_TTL"]),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(seconds=cfg["REFRESH_TOKEN_TTL"]),
        # Flask-Limiter: fixed windows in the shared Redis, per-process fallback.
        RATELIMIT_STRATEGY="fixed-window",
        RATELIMIT_HEADERS_ENABLED=False,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        # Only the first thread that meets a dead Redis switches Flask-Limiter to the
        # fallback; others already mid-call would re-raise (a 500). Swallowing lets those
        # few in-flight requests through unlimited, once, instead (tests/test_faults_redis).
        RATELIMIT_SWALLOW_ERRORS=True,
        # Flask-Caching: the shared client is handed over in register_extensions.
        CACHE_TYPE="RedisCache",
        CACHE_KEY_PREFIX=KEY_PREFIX,
    )


def configure_logging(app: Flask) -> None:
    """One format for the app, the libraries and gunicorn's error log."""
    level = app.config["LOG_LEVEL"].upper()
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=level,
            format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
        )
    logging.getLogger("marketplace").setLevel(level)
    app.logger.setLevel(level)


def register_extensions(app: Flask) -> None:
    """Wire every extension to the one Redis pool and the PostgreSQL pool of this process."""
    from marketplace import limit_storage, metrics
    from marketplace.extensions import (
        cache,
        db,
        generations,
        jwt,
        limiter,
        redis_store,
        sessions,
    )
    from marketplace.http import register_request_hooks
    from marketplace.sessions import install_session_interface

    cfg = app.config
    if cfg["TRUSTED_PROXY_COUNT"] > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=cfg["TRUSTED_PROXY_COUNT"])  # type: ignore[method-assign]

    shared = redis_store.init_app(app)
    db.init_app(app)
    generations.init_app(app)
    cfg.update(
        CACHE_REDIS_HOST=shared.client,
        SESSION_REDIS=shared.client,
        # Flask-Limiter's RedisStorage, plus the cache read it can carry (limit_storage).
        RATELIMIT_STORAGE_URI=limit_storage.SCHEME_PREFIX + shared.url,
        RATELIMIT_STORAGE_OPTIONS={
            "connection_pool": shared.pool,
            "key_prefix": "rate-limit",
        },
    )
    cache.init_app(app)
    limiter.init_app(app)
    logging.getLogger("flask-limiter").addFilter(limit_storage.outage_tracebacks)
    sessions.init_app(app)
    install_session_interface(app, shared.client)
    jwt.init_app(app)
    # Flask-Limiter probes a dead storage with a backoff of up to 32 s; the breaker knows
    # sooner, so shared counting resumes as soon as any Redis call succeeds again.
    shared.breaker.on_recovery(lambda: setattr(limiter, "_storage_dead", False))
    register_request_hooks(app)
    metrics.init_app(app)


def register_blueprints(app: Flask) -> None:
    """The four domains of the contract, under /api/v1."""
    from marketplace import auth, health, openapi, projects, stats

    for domain in (health, auth, projects, stats):
        domain.init_app(app)
    openapi.init_app(app)


def register_error_handlers(app: Flask) -> None:
    from marketplace.errors import register_error_handlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from marketplace.cli import register_commands as register

    register(app)


def close_app(app: Flask) -> None:
    """Release the app's pools and listener (tests create many apps in one process)."""
    app.extensions["generations"].stop()
    app.extensions["redis"].close()
    app.extensions["database"].close()
