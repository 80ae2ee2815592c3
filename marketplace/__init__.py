"""Marketplace API: a Flask JSON service on one shared Redis and PostgreSQL.

Where things live (read this first):

- `create_app` below is the table of contents; settings are in `config.py`.
- `extensions.py` holds the extension instances; `redis.py` the one Redis pool, its budget
  and its failure policy; `db.py` the PostgreSQL pool and transactions; `keys.py` every
  Redis key; `generations.py` how writes make caches stale; `rate_limits.py` how limits
  are counted; `front.py` the first stage of every request (known cached reads answered
  before Flask); `http.py` the Flask request pipeline and the success envelope; `errors.py` the
  error envelope; `adapters/` what the libraries do not offer publicly.
- The domains, each with `routes.py` (HTTP only) and their logic beside it: `auth/`,
  `projects/`, `stats/`, `health/`; `openapi/` documents them; `admin/` is the operator
  console (HTML pages for admins, outside /api/v1).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from config import Config


def create_app(config: Config | Mapping[str, Any] | None = None) -> Flask:
    """Build the app; `config` is a Config, or plain overrides of the environment's values."""
    app = Flask(__name__)
    load_settings(app, config)
    configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    register_front(app)
    return app


def load_settings(app: Flask, config: Config | Mapping[str, Any] | None) -> None:
    """APP_ENV's config class read from the environment, with the caller's overrides."""
    from config import Config, load_config

    app.config.from_object(config if isinstance(config, Config) else load_config(None, config))


def configure_logging(app: Flask) -> None:
    from marketplace.logs import configure_logging as configure

    configure(app)


def register_extensions(app: Flask) -> None:
    """Wire every extension to the one Redis pool and the PostgreSQL pool of this process."""
    from marketplace import periodic, prometheus, rate_limits
    from marketplace.extensions import cache, db, generations, jwt, redis_store, sessions
    from marketplace.http import register_request_hooks
    from marketplace.sessions import install_session_interface

    cfg = app.config
    shared = redis_store.init_app(app)
    db.init_app(app)
    generations.init_app(app)
    cfg.update(
        CACHE_REDIS_HOST=shared.client,
        SESSION_REDIS=shared.client,
        RATELIMIT_STORAGE_URI=shared.url,
        RATELIMIT_STORAGE_OPTIONS=rate_limits.storage_options(shared.pool),
    )
    cache.init_app(app)
    rate_limits.init_app(app)
    sessions.init_app(app)
    install_session_interface(app, shared.client)
    jwt.init_app(app)
    prometheus.init_app(app)
    periodic.register_jobs(app)
    register_request_hooks(app)


def register_blueprints(app: Flask) -> None:
    """The four domains of the contract, under /api/v1, and the operator console at /admin/."""
    from marketplace import admin, auth, health, openapi, projects, stats

    for domain in (health, auth, projects, stats):
        domain.init_app(app)
    openapi.init_app(app)
    admin.init_app(app)


def register_error_handlers(app: Flask) -> None:
    from marketplace.errors import register_error_handlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from marketplace.cli import register_commands as register

    register(app)


def register_front(app: Flask) -> None:
    """The WSGI stages around Flask, outermost first: ProxyFix (when behind proxies), then the
    front that answers known cached reads (`front.py`), then Flask."""
    from marketplace import front

    front.install(app)
    proxies = app.config["TRUSTED_PROXY_COUNT"]
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]


def close_app(app: Flask) -> None:
    """Release the app's pools and listener (tests create many apps in one process)."""
    app.extensions["generations"].stop()
    app.extensions["redis"].close()
    app.extensions["database"].close()
