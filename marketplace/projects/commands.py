"""Flask commands of the projects domain."""
import click

commands: list[click.Command] = []
