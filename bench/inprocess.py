"""Redis round trips and SQL statements per request, counted inside one app instance built
with the production configuration (`production_app`).

Commands per request (INFO commandstats) are an upper bound on round trips: a pipeline or
an MGET sends several commands, or several keys, in one write. Here every write of a
packed command buffer to a Redis socket is one round trip, whatever it holds; statements
come from the app's own counter (`db.pool.queries`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from redis.connection import AbstractConnection

from bench.scenarios import Scenario
from bench.settings import Settings
from bench.sides import Side
from bench.targets import our_env


@contextlib.contextmanager
def production_app(settings: Settings) -> Iterator[Any]:
    """Our app as the bench's gunicorn workers run it (`our_env`: production, LOG_LEVEL=INFO,
    rate limits raised, the bench's database and Redis db), built in this process.

    The app configures logging as it does under gunicorn (a root handler at INFO); that
    handler writes to /dev/null, so every log line is still made and formatted but the
    terminal stays clean. The logging this process had before is restored at the end.
    """
    # Metrics count as under gunicorn: prometheus_client's multiprocess values (memory-mapped
    # files), chosen when prometheus_client is first imported, i.e. by create_app below.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="bench-metrics-"))
    from config import load_config
    from marketplace import close_app, create_app

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    root.handlers.clear()  # as in a fresh worker: create_app installs its own handler
    with open(os.devnull, "w") as devnull:
        app = create_app(load_config(our_env(settings)))
        for handler in root.handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(devnull)
        try:
            yield app
        finally:
            with contextlib.suppress(Exception):
                close_app(app)
            root.handlers[:] = saved_handlers
            root.setLevel(saved_level)


@dataclass
class Counted:
    requests: int = 0
    round_trips: int = 0
    commands: Counter[str] = field(default_factory=Counter)
    statements: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    def per_request(self, value: float) -> float:
        return value / self.requests if self.requests else 0.0


class RedisTap:
    """Counts round trips (socket writes) and commands of every redis-py connection while
    entered, by wrapping the connection methods; restores them on exit."""

    def __init__(self) -> None:
        self.round_trips = 0
        self.commands: Counter[str] = Counter()
        self._saved: dict[str, Any] = {}

    def __enter__(self) -> RedisTap:
        tap = self
        saved = self._saved = {
            name: getattr(AbstractConnection, name)
            for name in ("send_packed_command", "send_command", "pack_commands")
        }

        def send_packed_command(conn: Any, command: Any, check_health: bool = True) -> None:
            tap.round_trips += 1
            return saved["send_packed_command"](conn, command, check_health)

        def send_command(conn: Any, *args: Any, **kwargs: Any) -> None:
            tap.commands[_name(args[0])] += 1
            return saved["send_command"](conn, *args, **kwargs)

        def pack_commands(conn: Any, commands: Any) -> Any:
            commands = list(commands)
            for cmd in commands:
                tap.commands[_name(cmd[0])] += 1
            return saved["pack_commands"](conn, commands)

        AbstractConnection.send_packed_command = send_packed_command  # type: ignore[method-assign]
        AbstractConnection.send_command = send_command  # type: ignore[method-assign]
        AbstractConnection.pack_commands = pack_commands  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        for name, value in self._saved.items():
            setattr(AbstractConnection, name, value)


def _name(word: Any) -> str:
    return (word.decode() if isinstance(word, bytes) else str(word)).upper()


def count(app: Any, scenario: Scenario, side: Side, n: int = 50) -> Counted:
    """Send `n` requests of the scenario through the app (after one uncounted warm-up)."""
    requests, headers = scenario.requests(side)
    client = app.test_client()
    pool = app.extensions["database"]
    scenario.before_run(side)

    def send(i: int) -> int:
        req = requests[i % len(requests)]
        resp = client.open(req.path, method=req.method, headers=headers,
                           data=req.body, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        return resp.status_code

    if scenario.ids != "miss":
        for i in range(len(requests)):
            send(i)  # fills the cache for the hit scenarios
    counted = Counted(requests=n)
    queries_before = pool.queries
    with RedisTap() as tap:
        for i in range(n):
            counted.statuses[send(i)] += 1
    counted.round_trips, counted.commands = tap.round_trips, tap.commands
    counted.statements = pool.queries - queries_before
    return counted
