"""Flask commands of the auth domain."""
import click

commands: list[click.Command] = []
