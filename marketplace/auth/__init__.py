"""The auth domain of the contract: accounts, tokens, sessions, credential limits."""
from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.auth import tokens
    from marketplace.auth.routes import bp

    tokens.init_app(app)
    app.register_blueprint(bp)
