"""Flask commands of the projects domain: seed-demo fills the database for demos."""
from __future__ import annotations

import time

import click
from flask.cli import with_appcontext

from marketplace.auth.users import hash_password
from marketplace.projects import seed


@click.command("seed-demo")
@click.option("--projects", "project_count", type=click.IntRange(0, 10_000_000), default=1000,
              show_default=True, help="Projects to add.")
@click.option("--users", "user_count", type=click.IntRange(2, 1_000_000), default=50,
              show_default=True, help="Demo users (half clients, half agents).")
@click.option("--seed", "random_seed", type=int, default=42, show_default=True,
              help="Random seed, for repeatable data.")
@with_appcontext
def seed_demo(project_count: int, user_count: int, random_seed: int) -> None:
    """Add demo users, projects and proposals (batched COPY, one transaction)."""
    started = time.monotonic()
    password_hash = hash_password(seed.DEMO_PASSWORD)  # one slow hash for every demo user
    clients, agents = seed.seed_users(user_count, password_hash)
    with click.progressbar(length=project_count, label="projects") as bar:
        proposals = seed.seed_projects(project_count, clients, agents, random_seed,
                                       bar.update)
    click.echo(f"added {project_count} projects and {proposals} proposals for "
               f"{len(clients)} clients and {len(agents)} agents "
               f"in {time.monotonic() - started:.1f} s")
    click.echo(f"demo login: demo-client-1@example.com / {seed.DEMO_PASSWORD} "
               f"(agents: demo-agent-1@example.com, same password)")


commands: list[click.Command] = [seed_demo]
