"""What the console shows, gathered for one poll: whatever can be had right now.

Redis's figures, the service's counters and alerts come from `health.monitoring.collect`
(the redis-stats figures); while Redis does not answer they are `null` and the page says so,
with what the worker knows of the outage (its breaker) and PostgreSQL's side. Pools are the
answering worker's own. The history is the list the periodic check fills (`keys.HISTORY`),
turned into points: memory, and ops/s and hit ratio over each interval between two samples.
"""
from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from flask import current_app

from marketplace.errors import ServiceUnavailable
from marketplace.health import monitoring
from marketplace.health.probes import ProbeFailed, probe_postgres
from marketplace.http import iso_utc, now_utc
from marketplace.redis import degrade
from marketplace.stats import store

REFRESH_SECONDS = 3  # how often the page polls
HISTORY_WINDOW = 3600  # the chart's span, seconds


@degrade(None)  # Redis down: no figures, and the page says so
def _redis_figures() -> dict[str, Any] | None:
    return monitoring.collect()


def snapshot() -> dict[str, Any]:
    """Every figure of the console, as the data endpoint sends it."""
    cfg = current_app.config
    handle = current_app.extensions["redis"]
    database = current_app.extensions["database"]
    pools = {"redis": {"in_use": handle.in_use(), "size": handle.budget},
             "postgres": {"in_use": database.in_use(), "size": cfg["DB_POOL_MAX"]}}
    figures = _redis_figures()
    samples = monitoring.read_history() if figures is not None else None
    return {
        "generated_at": now_utc(),
        "worker_pid": os.getpid(),
        "refresh_seconds": REFRESH_SECONDS,
        "redis": redis_state(figures, handle.breaker),
        "counters": figures["counters"] if figures else None,
        "alerts": figures["alerts"] if figures else None,
        "postgres": postgres_state(cfg["DATABASE_URL"]),
        "pools": pools,
        "history": None if samples is None else {
            "window_seconds": HISTORY_WINDOW,
            "interval_seconds": cfg["ALERT_CHECK_INTERVAL"],
            "points": history_points(samples, time.time()),
        },
    }


def redis_state(figures: dict[str, Any] | None, breaker: Any) -> dict[str, Any]:
    """Up with its figures, or down (since when, as far as this worker saw it)."""
    down_since = breaker.down_since
    state: dict[str, Any] = {
        "up": figures is not None,
        "down_since": None if figures is not None or down_since is None
        else iso_utc(datetime.fromtimestamp(down_since, UTC)),
        "outages_seen": breaker.outages,
        "memory": None, "clients": None, "keys": None, "ops_per_sec": None,
        "hit_ratio": None, "evicted_keys": None, "expired_keys": None, "uptime_seconds": None,
    }
    if figures is None:
        return state
    memory = figures["memory"]
    limit = memory["maxmemory_bytes"]
    state.update({name: figures[name] for name in (
        "clients", "keys", "ops_per_sec", "hit_ratio", "evicted_keys", "expired_keys",
        "uptime_seconds")})
    state["memory"] = {
        "used_bytes": memory["used_bytes"],
        "peak_bytes": memory["peak_bytes"],
        "limit_bytes": limit or current_app.config["REDIS_MEMORY_LIMIT"],
        "limit_source": "maxmemory" if limit else "REDIS_MEMORY_LIMIT",
        "policy": memory["policy"],
        "fragmentation_ratio": memory["fragmentation_ratio"],
    }
    return state


def postgres_state(dsn: str) -> dict[str, Any]:
    """Up (latency, the marketplace's counts) or down (the probe's short reason)."""
    try:
        latency = probe_postgres(dsn)
    except ProbeFailed as exc:
        return {"up": False, "latency_ms": None, "error": str(exc), "counts": None}
    try:
        _generation, counts = store.summary()
        counts.pop("success", None)
    except ServiceUnavailable:
        counts = None  # it went away between the probe and the query
    return {"up": True, "latency_ms": round(latency, 1), "error": None, "counts": counts}


def _number(sample: dict[str, Any], name: str) -> float | None:
    value = sample.get(name)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _rate(new: float | None, old: float | None, seconds: float) -> float | None:
    """Per second between two cumulative readings; None across a Redis restart (reset)."""
    if new is None or old is None or seconds <= 0 or new < old:
        return None
    return (new - old) / seconds


def history_points(samples: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """The samples of the last HISTORY_WINDOW seconds as chart points, oldest first."""
    points = []
    previous: dict[str, Any] | None = None
    for sample in sorted(samples, key=lambda s: s["t"]):
        point = {"t": sample["t"], "memory_bytes": _number(sample, "used_memory"),
                 "ops_per_sec": None, "hit_ratio": None}
        if previous is not None:
            seconds = sample["t"] - previous["t"]
            ops = _rate(_number(sample, "commands"), _number(previous, "commands"), seconds)
            hits = _rate(_number(sample, "hits"), _number(previous, "hits"), seconds)
            misses = _rate(_number(sample, "misses"), _number(previous, "misses"), seconds)
            point["ops_per_sec"] = None if ops is None else round(ops, 1)
            if hits is not None and misses is not None and hits + misses > 0:
                point["hit_ratio"] = round(hits / (hits + misses), 4)
        previous = sample
        if sample["t"] >= now - HISTORY_WINDOW:
            points.append(point)
    return points
