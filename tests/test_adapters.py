"""Every private attribute of a library the service relies on is named by one adapter
(`marketplace/adapters/`), and checked here on the real objects: an upgrade that removes one
fails this test with the attribute's name, not a request at run time."""
from __future__ import annotations

from typing import Any

from marketplace.adapters import flask_limiter, flask_session, gunicorn, limits, redis


def test_each_adapter_finds_what_it_relies_on(app: Any) -> None:
    from marketplace.extensions import limiter

    with app.app_context():
        flask_limiter.check(limiter)
        limits.check(app.extensions["rate_limits"].storage)
        redis.check(app.extensions["redis"].pool)
    flask_session.check()
    gunicorn.check()


def test_the_limiter_counts_without_its_request_hooks(app: Any) -> None:
    """Flask-Limiter registers request hooks in `init_app`; the adapter removes them (the
    service counts with the limits it resolved once), and would notice if it found none."""
    hooks = [f for registry in (app.before_request_funcs, app.after_request_funcs,
                                app.teardown_request_funcs)
             for funcs in registry.values() for f in funcs]
    assert not [f for f in hooks if "flask_limiter" in getattr(f, "__module__", "")
                or "Limiter" in repr(f)], hooks


def test_every_adapter_declares_its_private_names() -> None:
    for adapter in (flask_limiter, flask_session, limits, redis):
        assert adapter.PRIVATE and all("." in name for name in adapter.PRIVATE), adapter
