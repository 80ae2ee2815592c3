"""The auth domain of the contract."""
from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.auth.routes import bp

    app.register_blueprint(bp)
