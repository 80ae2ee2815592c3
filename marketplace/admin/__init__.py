"""The operator console at /admin/: server-rendered pages for the service's admins, outside
the JSON API (the contract's "operator dashboard page")."""
from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace.admin import assets
    from marketplace.admin.routes import bp

    app.extensions["admin_assets"] = assets.load()
    app.register_blueprint(bp)
