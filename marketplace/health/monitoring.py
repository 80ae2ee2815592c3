"""Redis figures for the operator (redis-stats, redis-check): typed values parsed from INFO,
key counts per contract prefix, and alerts when a free-plan limit comes close.

Shared by the admin route, the operator console and the CLI. Crossing a threshold is logged
once per process (when it is first seen, and again only after it cleared and was crossed
anew), by whoever collected the figures: redis-stats, redis-check, or the service's periodic
check (`periodic_check`, run by `marketplace/periodic.py` every ALERT_CHECK_INTERVAL
seconds), which also takes the console's history samples (`keys.HISTORY`).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

import orjson
import redis
from flask import current_app

from marketplace import keys, metrics
from marketplace.redis import degrade

log = logging.getLogger(__name__)

# The key table (keys.py), in the order redis-stats lists it; the rest counts as `other`.
PREFIXES = keys.PREFIXES
EXACT_COUNT_LIMIT = 10_000  # up to this DBSIZE every key is counted; above, a sample
SAMPLE_SIZE = 5_000  # keys looked at (SCAN COUNT 1000) when the db is larger
SCAN_COUNT = 1_000
SERVICE_CLIENT_NAME = "marketplace"  # the pool's CLIENT SETNAME (marketplace/redis.py)

_lock = threading.Lock()
_crossed: set[str] = set()  # metrics above their threshold at this process's last look


def _int(section: dict[str, Any], name: str) -> int:
    return int(section.get(name) or 0)


def count_keys(client: redis.Redis, total: int) -> dict[str, Any]:
    """Keys per prefix: exact when the db is small, else a SCAN sample scaled to DBSIZE."""
    counts = dict.fromkeys((*PREFIXES, "other"), 0)
    seen = 0
    cursor = 0
    sample = total > EXACT_COUNT_LIMIT
    while True:
        cursor, keys = client.scan(cursor, count=SCAN_COUNT)
        for key in keys:
            name = key.decode(errors="replace") if isinstance(key, bytes) else key
            prefix = next((p for p in PREFIXES if name.startswith(p)), "other")
            counts[prefix] += 1
        seen += len(keys)
        if cursor == 0 or (sample and seen >= SAMPLE_SIZE):
            break
    exact = cursor == 0
    if not exact and seen:
        counts = {p: round(n * total / seen) for p, n in counts.items()}
    return {"total": total, "exact": exact, "sampled": 0 if exact else seen,
            "by_prefix": counts}


@degrade(None)
def count_service_clients(client: redis.Redis) -> int | None:
    """Connections named by the service's pools (all instances); None if CLIENT LIST is refused
    (some hosted plans disable it)."""
    return sum(1 for c in client.client_list() if c.get("name") == SERVICE_CLIENT_NAME)


def thresholds(cfg: Any) -> dict[str, int]:
    return {"memory": cfg["ALERT_MEMORY_BYTES"], "connections": cfg["ALERT_CONNECTIONS"],
            "keys": cfg["ALERT_KEYS"]}


def find_alerts(values: dict[str, int], limits: dict[str, int]) -> list[dict[str, Any]]:
    """One entry per threshold crossed (value strictly above the threshold)."""
    return [{"metric": name, "value": values[name], "threshold": limit}
            for name, limit in limits.items() if values[name] > limit]


def note_alerts(alerts: list[dict[str, Any]]) -> None:
    """Log a warning for each newly crossed threshold, an info line when one clears."""
    now = {a["metric"]: a for a in alerts}
    with _lock:
        new = [now[m] for m in now if m not in _crossed]
        cleared = _crossed - now.keys()
        _crossed.clear()
        _crossed.update(now)
    for alert in new:
        log.warning("redis alert: %s is %d, above the threshold of %d",
                    alert["metric"], alert["value"], alert["threshold"])
    for metric in sorted(cleared):
        log.info("redis alert cleared: %s is back within its threshold", metric)


def collect() -> dict[str, Any]:
    """Every figure of redis-stats; raises a REDIS_ERRORS member when Redis is down."""
    handle = current_app.extensions["redis"]
    client, cfg = handle.client, current_app.config
    info = client.info()
    total = int(client.dbsize())
    memory = {
        "used_bytes": _int(info, "used_memory"),
        "peak_bytes": _int(info, "used_memory_peak"),
        "maxmemory_bytes": _int(info, "maxmemory") or None,  # None: no limit set
        "policy": str(info.get("maxmemory_policy", "")) or None,
        "fragmentation_ratio": float(info.get("mem_fragmentation_ratio") or 0.0),
    }
    clients = {
        "connected": _int(info, "connected_clients"),
        "service": count_service_clients(client),
        "budget_per_process": handle.budget,
        "budget_per_instance": cfg["REDIS_MAX_CONNECTIONS"],
    }
    hits, misses = _int(info, "keyspace_hits"), _int(info, "keyspace_misses")
    values = {"memory": memory["used_bytes"], "connections": clients["connected"],
              "keys": total}
    alerts = find_alerts(values, thresholds(cfg))
    note_alerts(alerts)
    return {
        "memory": memory,
        "clients": clients,
        "keys": count_keys(client, total),
        "ops_per_sec": _int(info, "instantaneous_ops_per_sec"),
        "hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
        "evicted_keys": _int(info, "evicted_keys"),
        "expired_keys": _int(info, "expired_keys"),
        "uptime_seconds": _int(info, "uptime_in_seconds"),
        "counters": metrics.totals(),
        "alerts": alerts,
    }


def check_thresholds() -> list[dict[str, Any]]:
    """The cheap part of `collect` for the periodic check (one round trip, O(1) commands),
    which also claims this interval's history sample: the process whose claim succeeds
    records it (one more round trip), every other process of every instance skips it."""
    client, cfg = current_app.extensions["redis"].client, current_app.config
    pipe = client.pipeline(transaction=False)
    pipe.info("memory")
    pipe.info("clients")
    pipe.info("stats")
    pipe.dbsize()
    pipe.set(keys.HISTORY_CLAIM, 1, nx=True, px=claim_ms(cfg["ALERT_CHECK_INTERVAL"]))
    memory, clients, stats, total, claimed = pipe.execute()
    values = {"memory": _int(memory, "used_memory"),
              "connections": _int(clients, "connected_clients"), "keys": int(total)}
    alerts = find_alerts(values, thresholds(cfg))
    note_alerts(alerts)
    if claimed:
        record_sample(sample_of(memory, stats))
    return alerts


def claim_ms(interval: float) -> int:
    """How long a history claim holds: a little less than the check interval, so the next
    check after it, by any process, takes the next sample."""
    return max(1000, int(interval * 900))


def sample_of(memory: dict[str, Any], stats: dict[str, Any],
              now: float | None = None) -> dict[str, Any]:
    """One history sample: memory in use, and the cumulative counters that rates and the hit
    ratio between two samples are computed from."""
    return {"t": round(time.time() if now is None else now, 1),
            "used_memory": _int(memory, "used_memory"),
            "commands": _int(stats, "total_commands_processed"),
            "hits": _int(stats, "keyspace_hits"), "misses": _int(stats, "keyspace_misses"),
            "evicted": _int(stats, "evicted_keys")}


@degrade(False)  # a lost sample is a gap in the chart
def record_sample(sample: dict[str, Any]) -> bool:
    """Append `sample` to the history, trimmed to HISTORY_LENGTH, TTL renewed: one round trip."""
    current_app.extensions["redis"].round_trip(
        ("RPUSH", keys.HISTORY, orjson.dumps(sample)),
        ("LTRIM", keys.HISTORY, -keys.HISTORY_LENGTH, -1),
        ("EXPIRE", keys.HISTORY, keys.HISTORY_TTL),
    )
    return True


@degrade(list)
def read_history() -> list[dict[str, Any]]:
    """The stored samples, oldest first; an entry that is not a sample is skipped."""
    samples = []
    for raw in current_app.extensions["redis"].client.lrange(keys.HISTORY, 0, -1):
        try:
            sample = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if isinstance(sample, dict) and isinstance(sample.get("t"), int | float):
            samples.append(sample)
    return samples


@degrade(None)  # Redis down: the breaker has logged the outage
def periodic_check() -> None:
    """The service's own look at its thresholds (a job of `marketplace/periodic.py`)."""
    check_thresholds()
