"""Flask commands of the auth domain."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from marketplace.auth import user_cache, users
from marketplace.auth.schemas import RegisterIn, parse
from marketplace.errors import ValidationFailed


@click.command("create-admin")
@click.argument("email")
@click.option("--name", required=True, help="Display name of the admin.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Prompted (hidden, confirmed) when omitted.")
@with_appcontext
def create_admin(email: str, name: str, password: str) -> None:
    """Create an admin account, or promote an existing one (its password is reset)."""
    try:
        checked = parse(RegisterIn, {"email": email, "name": name, "password": password})
    except ValidationFailed as exc:
        problems = "; ".join(f"{field} {why}" for field, why in (exc.details or {}).items())
        raise click.BadParameter(problems) from None
    user, created = users.create_or_promote_admin(checked.email, checked.name, checked.password)
    user_cache.invalidate(user["id"])
    click.echo(f"{'created' if created else 'promoted'} admin {user['email']} ({user['id']})")


commands: list[click.Command] = [create_admin]
