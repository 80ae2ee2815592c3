"""Server-side counters read around runs: Redis INFO commandstats, pg_stat_database."""
from __future__ import annotations

import time
from collections import Counter

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
    reading is only exact after the target has been idle that long: `settle()` waits.
    """

    IDLE_FLUSH = 11.0

    def __init__(self, url: str) -> None:
        self.conn = psycopg2.connect(url)
        self.conn.autocommit = True

    def read(self, database: str) -> int:
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_stat_clear_snapshot()")
            cur.execute(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
                (database,),
            )
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def settle(self) -> None:
        time.sleep(self.IDLE_FLUSH)
