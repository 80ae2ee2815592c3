"""Flask commands: `db upgrade` here, and each domain's own commands."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from marketplace import migrate

db_cli = AppGroup("db", help="Database schema.")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (safe to run again, and from two instances at once)."""
    applied = migrate.upgrade(current_app.config["DATABASE_URL"])
    if applied:
        click.echo(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        click.echo("database is up to date")


@click.command("release")
@click.pass_context
@with_appcontext
def release(ctx: click.Context) -> None:
    """What every start runs before gunicorn (bin/start): `db upgrade`, then
    `bootstrap-admin`, in one process so that a cold start imports the app once."""
    from marketplace.auth.commands import run_bootstrap

    ctx.invoke(db_upgrade)
    run_bootstrap()


def register_commands(app: Flask) -> None:
    from marketplace.auth.commands import commands as auth_commands
    from marketplace.projects.commands import commands as project_commands
    from marketplace.stats.commands import commands as stats_commands

    app.cli.add_command(db_cli)
    app.cli.add_command(release)
    for command in (*auth_commands, *project_commands, *stats_commands):
        app.cli.add_command(command)
