"""The auth domain of the contract."""
from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.auth.routes import bp
    from marketplace.auth.tokens import register_token_callbacks

    register_token_callbacks(app)
    app.register_blueprint(bp)
