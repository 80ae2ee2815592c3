"""The projects domain of the contract: projects, proposals, their cache."""
from flask import Flask


def init_app(app: Flask) -> None:
    from marketplace import writes
    from marketplace.generations import PROJECTS
    from marketplace.projects.cache import drop_stale
    from marketplace.projects.routes import bp

    writes.on_write(PROJECTS, drop_stale)
    app.register_blueprint(bp)
