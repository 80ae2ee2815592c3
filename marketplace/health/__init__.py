"""Liveness and readiness of the process and of its two dependencies."""
from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.health import redis_stats  # noqa: F401 (adds its route to bp)
    from marketplace.health.routes import bp

    app.register_blueprint(bp)
