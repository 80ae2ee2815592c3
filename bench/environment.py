"""Machine and versions for the report header."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata

import psycopg2
import redis

from bench.settings import Settings


def _first(path: str, prefix: str) -> str:
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine() -> dict[str, str]:
    mem_kb = _first("/proc/meminfo", "MemTotal").split()[0]
    mem = f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb.isdigit() else "unknown"
    return {
        "CPUs (nproc)": str(os.cpu_count()),
        "CPU model": _first("/proc/cpuinfo", "model name"),
        "memory": mem,
        "kernel": platform.release(),
        "note": "wrk, both gunicorn/node workers, Redis and PostgreSQL share these CPUs",
    }


def load() -> str:
    """Other work on the machine shows here; the bench cannot stop it, only record it."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def _cmd(*args: str) -> str:
    try:
        return subprocess.run(list(args), capture_output=True, text=True,
                              timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions(with_peer: bool) -> dict[str, str]:
    from bench.targets import peer_versions

    settings = Settings()
    info = redis.Redis.from_url(settings.redis_url(settings.our_redis_db)).info("server")
    conn = psycopg2.connect(settings.pg_url("postgres"))
    with conn.cursor() as cur:
        cur.execute("SHOW server_version")
        pg_version = cur.fetchone()[0]
    conn.close()
    found = {"python": sys.version.split()[0]}
    for package in ("flask", "werkzeug", "gunicorn", "redis", "hiredis", "orjson",
                    "flask-limiter", "flask-caching", "psycopg2-binary"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    if with_peer:
        found["node"] = _cmd("node", "--version")
        found.update(peer_versions())
    found["redis-server"] = str(info.get("redis_version"))
    found["postgres"] = pg_version
    found["wrk"] = _cmd("wrk", "-v").splitlines()[0] if _cmd("wrk", "-v") else "unknown"
    return found
