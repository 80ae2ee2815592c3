"""The projects domain of the contract."""
from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.projects.routes import bp

    app.register_blueprint(bp)
