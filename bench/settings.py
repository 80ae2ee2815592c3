"""Every knob of a bench run, read once from the environment (BENCH_QUICK=1 for a short run),
and the bench's one status line."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from scripts.processes import ROOT

BENCH = ROOT / "bench"
OUT = BENCH / "out"
PG_HOST = "127.0.0.1:5432"
REDIS_HOST = "127.0.0.1:6379"
UNLIMITED = "100000000 per 15 minutes"  # rate limits raised out of the way
PEER_NOT_RUN = "peer not run: PEER_DIR unset"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _peer_source() -> Path | None:
    """PEER_DIR: a checkout of the Express peer (express-seed); unset, no peer is run."""
    value = os.environ.get("PEER_DIR", "").strip()
    if not value:
        return None
    path = Path(value).expanduser().resolve()
    if not (path / "package-lock.json").is_file():
        raise SystemExit(f"PEER_DIR={value}: no package-lock.json there (not express-seed?)")
    return path


@dataclass(frozen=True)
class Settings:
    """Durations in seconds; database names and Redis db numbers the bench owns."""

    quick: bool = field(default_factory=lambda: os.environ.get("BENCH_QUICK") == "1")
    connections: int = field(default_factory=lambda: _int("BENCH_CONNECTIONS", 32))
    threads: int = field(default_factory=lambda: _int("BENCH_THREADS", 2))
    projects: int = field(default_factory=lambda: _int("BENCH_PROJECTS", 10_000))
    users: int = field(default_factory=lambda: _int("BENCH_USERS", 1_000))
    our_db: str = field(default_factory=lambda: os.environ.get("BENCH_DB", "marketplace_bench"))
    peer_db: str = field(default_factory=lambda: os.environ.get("BENCH_PEER_DB", "peer_express"))
    our_redis_db: int = field(default_factory=lambda: _int("BENCH_REDIS_DB", 7))
    peer_redis_db: int = field(default_factory=lambda: _int("BENCH_PEER_REDIS_DB", 5))
    peer_source: Path | None = field(default_factory=_peer_source)
    calls_requests: int = field(default_factory=lambda: _int("BENCH_CALLS_REQUESTS", 300))
    only: tuple[str, ...] = field(
        default_factory=lambda: tuple(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
    )

    @property
    def duration(self) -> int:
        return _int("BENCH_DURATION", 3 if self.quick else 10)

    @property
    def rounds(self) -> int:
        return _int("BENCH_ROUNDS", 1 if self.quick else 3)

    @property
    def warmup(self) -> int:
        return _int("BENCH_WARMUP", 2 if self.quick else 5)

    @property
    def profile_seconds(self) -> int:
        return _int("BENCH_PROFILE_SECONDS", 5 if self.quick else 15)

    def pg_url(self, name: str) -> str:
        return f"postgresql://root@{PG_HOST}/{name}"

    def redis_url(self, number: int) -> str:
        return f"redis://{REDIS_HOST}/{number}"
