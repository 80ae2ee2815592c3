"""The OpenAPI 3.1 document of the contract, generated from the validation models."""
from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.openapi.routes import bp

    app.register_blueprint(bp)
