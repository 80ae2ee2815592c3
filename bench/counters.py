"""Server-side counters read around runs: Redis INFO commandstats, pg_stat_database."""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import psycopg2
import redis

from scripts.processes import redis_command_calls

IGNORED = {"info", "monitor", "client|list", "client|info"}  # our own probes


class RedisCommands:
    """Commands executed by the whole Redis server, per command name (INFO commandstats).

    The server is shared by every db and every engineer on the machine, so deltas are taken
    around one target's run at a time; per-request figures are an upper bound.
    """

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url)

    def snapshot(self) -> Counter[str]:
        calls = redis_command_calls(self.client)
        return Counter({name: n for name, n in calls.items() if name not in IGNORED})


class PgTransactions:
    """xact_commit + xact_rollback per database (pg_stat_statements needs a preload, absent).

    Backends report their counts when idle for 10 s at the latest (PostgreSQL 15), so a
    reading is only exact after the target has been idle that long: `settled()` waits. A
    backend with nothing to report but transactions holds them back, though: our listeners'
    once-a-second `SELECT 1` (`marketplace/generations.py`) reach the counters only with the
    next notification, minutes later, inside whatever window is open then. So each reading
    first sends a `NOTIFY` to the database: PostgreSQL wakes every listening backend, which
    then reports what it holds (the service sees nothing: no one listens on that channel).
    """

    IDLE_FLUSH = 11.0
    FLUSH_CHANNEL = "bench_stats_flush"

    def __init__(self, url_of: Callable[[str], str]) -> None:
        self.url_of = url_of  # database name -> URL
        self.conn = psycopg2.connect(url_of("postgres"))
        self.conn.autocommit = True

    def settled(self, databases: dict[str, str]) -> dict[str, int]:
        """{kind: transactions so far} of each database, after a flush and a settle."""
        for name in databases.values():
            conn = psycopg2.connect(self.url_of(name))
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"NOTIFY {self.FLUSH_CHANNEL}")
            conn.close()
        time.sleep(self.IDLE_FLUSH)
        return {kind: self.read(name) for kind, name in databases.items()}

    def read(self, database: str) -> int:
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_stat_clear_snapshot()")
            cur.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
                (database,),
            )
            row = cur.fetchone()
        return int(row[0]) if row else 0
