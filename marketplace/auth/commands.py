"""Flask commands of the auth domain: create or promote an admin, remove an account."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from marketplace import writes
from marketplace.auth import users
from marketplace.auth.schemas import RegisterIn, parse
from marketplace.errors import ValidationFailed
from marketplace.projects import store as projects


@click.command("create-admin")
@click.argument("email")
@click.option("--name", required=True, help="Display name of the admin.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Prompted (hidden, confirmed) when omitted.")
@with_appcontext
def create_admin(email: str, name: str, password: str) -> None:
    """Create an admin account, or promote an existing one (its password is reset and every
    token issued before ends)."""
    try:
        checked = parse(RegisterIn, {"email": email, "name": name, "password": password})
    except ValidationFailed as exc:
        problems = "; ".join(f"{field} {why}" for field, why in (exc.details or {}).items())
        raise click.BadParameter(problems) from None
    user, created = users.create_or_promote_admin(checked.email, checked.name, checked.password)
    click.echo(f"{'created' if created else 'promoted'} admin {user['email']} ({user['id']})")


@click.command("delete-user")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def delete_user(email: str, yes: bool) -> None:
    """Remove an account, its projects (with their proposals) and its proposals; every token
    and session of it ends. Cached copies are dropped like after any write."""
    if not yes:
        click.confirm(f"Remove {email} and everything it owns?", abort=True)
    with writes.write() as change:
        user_id = users.lock_by_email(change.cur, email)
        if user_id is None:
            raise click.ClickException(f"no account with the e-mail {email}")
        removed = projects.remove_content_of(change, user_id)
        users.delete(change, user_id)
    click.echo(f"removed {email} ({user_id}), {removed['projects']} project(s) and "
               f"{removed['proposals']} proposal(s) on other projects")


commands: list[click.Command] = [create_admin, delete_user]
