"""Flask commands of the auth domain: create or promote an admin, remove an account."""
from __future__ import annotations

import click
import psycopg2
from flask import current_app
from flask.cli import with_appcontext

from marketplace import writes
from marketplace.auth import users
from marketplace.auth.schemas import RegisterIn, parse
from marketplace.errors import ServiceUnavailable, ValidationFailed
from marketplace.migrate import one_at_a_time
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


# ---- the admin of ADMIN_EMAIL / ADMIN_PASSWORD, applied by every start (bin/start)

# Any constant works; it only has to be the same for every instance (see migrate.py's).
ADMIN_LOCK_ID = 7_215_304_118
DEFAULT_ADMIN_NAME = "Admin"


def bootstrap_admin() -> str:
    """Make the ADMIN_* account an admin with ADMIN_PASSWORD; a line saying what was done.

    Free instances restart after every spin-down, so a start that finds the account
    already as configured (admin, the same password, the same name) changes nothing:
    no write, no new hash, no `updated_at`. The password is never printed or logged.
    """
    cfg = current_app.config
    email, password, name = cfg["ADMIN_EMAIL"], cfg["ADMIN_PASSWORD"], cfg["ADMIN_NAME"]
    if not email and not password:
        return "admin bootstrap: ADMIN_EMAIL and ADMIN_PASSWORD are not set, nothing to do"
    if not (email and password):
        missing = "ADMIN_PASSWORD" if email else "ADMIN_EMAIL"
        return f"admin bootstrap skipped: {missing} is not set"
    try:
        checked = parse(RegisterIn, {"email": email, "password": password,
                                     "name": name or DEFAULT_ADMIN_NAME})
    except ValidationFailed as exc:
        problems = "; ".join(f"ADMIN_{field.upper()} {why}"
                             for field, why in (exc.details or {}).items())
        raise click.ClickException(f"admin bootstrap refused: {problems}") from None
    # A second instance starting at the same moment waits, then finds the admin as configured.
    with one_at_a_time(cfg["DATABASE_URL"], ADMIN_LOCK_ID, "marketplace-bootstrap"):
        user, same_password = users.check_credentials(checked.email, checked.password)
        wanted_name = checked.name if name else (user or {}).get("name", checked.name)
        if user and same_password and user["role"] == "admin" and user["name"] == wanted_name:
            return f"admin {user['email']} unchanged"
        user, created = users.create_or_promote_admin(
            checked.email, wanted_name, None if same_password else checked.password)
    return f"admin {user['email']} {'created' if created else 'updated'}"


def run_bootstrap() -> None:
    try:
        outcome = bootstrap_admin()
    except (ServiceUnavailable, psycopg2.OperationalError) as exc:
        raise click.ClickException(f"admin bootstrap: database unreachable "
                                   f"({type(exc).__name__})") from None
    click.echo(outcome, err=outcome.startswith("admin bootstrap skipped"))


@click.command("bootstrap-admin")
@with_appcontext
def bootstrap_admin_command() -> None:
    """Create or update the admin of ADMIN_EMAIL / ADMIN_PASSWORD (and ADMIN_NAME);
    nothing when they are unset or the account already matches them."""
    run_bootstrap()


commands: list[click.Command] = [create_admin, delete_user, bootstrap_admin_command]
