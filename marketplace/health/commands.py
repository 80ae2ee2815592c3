"""Flask commands of the health domain: `redis-check`, the redis-stats figures for a terminal."""
from __future__ import annotations

from typing import Any

import click
from flask.cli import with_appcontext

from marketplace.errors import ServiceUnavailable
from marketplace.health.monitoring import collect
from marketplace.redis import require

EXIT_ALERT = 1
EXIT_UNREACHABLE = 2


def _mb(n: int | None) -> str:
    return "none" if n is None else f"{n / 1_000_000:.2f} MB"


def format_figures(f: dict[str, Any]) -> list[str]:
    """The redis-stats figures as aligned terminal lines."""
    mem, clients, keys = f["memory"], f["clients"], f["keys"]
    ratio = "n/a" if f["hit_ratio"] is None else f"{f['hit_ratio']:.2%}"
    how = "exact" if keys["exact"] else f"estimated from a sample of {keys['sampled']}"
    service = "unknown" if clients["service"] is None else clients["service"]
    lines = [
        f"memory       {_mb(mem['used_bytes'])} used, {_mb(mem['peak_bytes'])} peak, "
        f"max {_mb(mem['maxmemory_bytes'])} ({mem['policy']}), "
        f"fragmentation {mem['fragmentation_ratio']:.2f}",
        f"clients      {clients['connected']} connected, {service} of the service; budget "
        f"{clients['budget_per_instance']} per instance, {clients['budget_per_process']} "
        "per process",
        f"keys         {keys['total']} ({how})",
        *(f"  {prefix:<12} {n}" for prefix, n in keys["by_prefix"].items()),
        f"ops/s        {f['ops_per_sec']}",
        f"hit ratio    {ratio}",
        f"evicted      {f['evicted_keys']}",
        f"expired      {f['expired_keys']}",
        f"uptime       {f['uptime_seconds']} s",
        "counters     " + ", ".join(f"{k} {v}" for k, v in f["counters"].items()),
    ]
    if not f["alerts"]:
        lines.append("alerts       none")
    for alert in f["alerts"]:
        lines.append(f"ALERT        {alert['metric']} is {alert['value']}, "
                     f"above the threshold of {alert['threshold']}")
    return lines


@click.command("redis-check")
@with_appcontext
def redis_check() -> None:
    """Print the redis-stats figures; exit 1 when an alert is raised, 2 if Redis is down."""
    try:
        figures = require("Redis is unavailable.")(collect)()
    except ServiceUnavailable as exc:
        click.echo(f"redis unreachable: {type(exc.__cause__).__name__}", err=True)
        raise SystemExit(EXIT_UNREACHABLE) from None
    for line in format_figures(figures):
        click.echo(line)
    if figures["alerts"]:
        raise SystemExit(EXIT_ALERT)


commands: list[click.Command] = [redis_check]
