"""The auth domain of the contract: accounts, tokens, sessions, credential limits."""
from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace import writes
    from marketplace.auth import tokens, user_cache
    from marketplace.auth.routes import bp
    from marketplace.generations import USERS

    writes.on_write(USERS, user_cache.drop_stale)
    tokens.init_app(app)
    app.register_blueprint(bp)
