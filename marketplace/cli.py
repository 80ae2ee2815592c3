"""Flask commands: `db upgrade`, `release` and `cleanup` here, and each domain's own."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from marketplace import migrate
from marketplace.errors import ServiceUnavailable

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


@click.command("cleanup")
@with_appcontext
def cleanup() -> None:
    """Delete the revoked_tokens rows of expired tokens; print how many; exit 2 if the
    database is unreachable. The service also does this by itself about once an hour."""
    from marketplace.auth import revocation

    try:
        removed = revocation.trim_all_expired()
    except ServiceUnavailable:
        click.echo("database unreachable", err=True)
        raise SystemExit(2) from None
    click.echo(f"removed {removed} expired revoked token(s)")


def register_commands(app: Flask) -> None:
    from marketplace.auth.commands import commands as auth_commands
    from marketplace.health.commands import commands as health_commands
    from marketplace.projects.commands import commands as project_commands

    for command in (db_cli, release, cleanup, *auth_commands, *health_commands,
                    *project_commands):
        app.cli.add_command(command)
