"""Flask commands of the stats domain."""
import click

commands: list[click.Command] = []
