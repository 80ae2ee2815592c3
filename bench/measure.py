"""Timed runs (warm-up, then rounds alternating the targets) and a sequential accounting pass."""
from __future__ import annotations

import http.client
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.counters import PgTransactions, RedisCommands
from bench.scenarios import Scenario
from bench.settings import Settings, log
from bench.sides import Side
from bench.wrk import Result, run_wrk, write_script
from scripts.processes import ServerProcess


@dataclass
class Measured:
    """Everything measured for one (scenario, target)."""

    runs: list[Result] = field(default_factory=list)
    cpu_seconds: float = 0.0  # the target's processes, summed over the timed runs
    redis_calls: Counter[str] = field(default_factory=Counter)  # commandstats deltas, timed runs
    seq_requests: int = 0
    seq_redis: Counter[str] = field(default_factory=Counter)  # commandstats, accounting pass
    seq_pg_xacts: int = 0  # net of the idle window (`accounting`)
    seq_errors: int = 0

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.runs)

    @property
    def rps(self) -> float:
        """Median of the rounds' throughputs (robust to one disturbed round)."""
        values = sorted(r.rps for r in self.runs)
        return values[len(values) // 2] if values else 0.0

    @property
    def rps_range(self) -> tuple[float, float]:
        """The slowest and the fastest round (the spread the median hides)."""
        values = [r.rps for r in self.runs]
        return (min(values), max(values)) if values else (0.0, 0.0)

    @property
    def cpu_per_10k(self) -> float:
        """Worker CPU seconds (user + system, master included) per 10,000 requests served."""
        return self.cpu_seconds / self.requests * 10_000 if self.requests else 0.0

    @property
    def p50(self) -> float:
        return sorted(r.p50_ms for r in self.runs)[len(self.runs) // 2] if self.runs else 0.0

    @property
    def p99(self) -> float:
        return max((r.p99_ms for r in self.runs), default=0.0)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)

    @property
    def redis_per_request(self) -> float:
        return sum(self.redis_calls.values()) / self.requests if self.requests else 0.0

    @property
    def seq_redis_per_request(self) -> float:
        total = sum(self.seq_redis.values())
        return total / self.seq_requests if self.seq_requests else 0.0

    @property
    def pg_per_request(self) -> float:
        return self.seq_pg_xacts / self.seq_requests if self.seq_requests else 0.0


def timed(scenario: Scenario, sides: list[Side], settings: Settings,
          redis_cmds: RedisCommands) -> dict[str, Measured]:
    """Warm every target up, then `rounds` rounds, rotating which target goes first."""
    results = {side.kind: Measured() for side in sides}
    scripts = {}
    for side in sides:
        requests, headers = scenario.requests(side)
        scripts[side.kind] = write_script(f"{scenario.name}-{side.kind}", requests, headers,
                                          settings.threads)
    for side in sides:
        scenario.before_run(side)
        _drain(run_wrk(side.server.url, scripts[side.kind], settings.warmup,
                       settings.connections, settings.threads), side.server, redis_cmds)
    for round_no in range(settings.rounds):
        shift = round_no % len(sides)
        for side in sides[shift:] + sides[:shift]:
            scenario.before_run(side)
            before = redis_cmds.snapshot()
            cpu_before = side.server.cpu_seconds()
            result = run_wrk(side.server.url, scripts[side.kind], settings.duration,
                             settings.connections, settings.threads)
            cpu = side.server.cpu_seconds() - cpu_before
            delta = redis_cmds.snapshot()
            delta.subtract(before)
            measured = results[side.kind]
            measured.runs.append(result)
            measured.cpu_seconds += cpu
            measured.redis_calls.update(+delta)
            per_10k = cpu / result.requests * 10_000 if result.requests else 0.0
            log(f"{scenario.name} r{round_no + 1} {side.kind:5s} {result.rps:8.0f} req/s "
                f"p50 {result.p50_ms:6.2f} ms p99 {result.p99_ms:6.2f} ms "
                f"cpu {per_10k:5.2f} s/10k errors {result.errors}")
            _drain(result, side.server, redis_cmds)
    return results


def _drain(result: Result, server: ServerProcess, redis_cmds: RedisCommands) -> None:
    """A run whose requests queue for seconds (the peer's KEYS at 100,000 users) leaves a
    backlog the server is still working through after wrk stops, warm-ups included: let it
    finish before the next target's run, so it does not steal that run's CPU or Redis (the
    service answered 503s, its documented degradation when Redis does not answer in time,
    in rounds that followed the peer's at 100,000 users). Waits, for up to 60 s, until the
    server's processes use less than 5 % of a CPU and Redis answers a PING within 5 ms."""
    if result.p99_ms <= 500:
        return
    started = time.monotonic()
    while time.monotonic() < started + 60:
        cpu_before = server.cpu_seconds()
        time.sleep(1.0)
        busy = server.cpu_seconds() - cpu_before > 0.05
        ping_started = time.perf_counter()
        redis_cmds.client.ping()
        if not busy and time.perf_counter() - ping_started < 0.005:
            break
    log(f"drained {server.name} for {time.monotonic() - started:.0f} s")


def accounting(plan: list[tuple[Scenario, list[Side]]], results: dict[str, dict[str, Measured]],
               redis_cmds: RedisCommands, pg: PgTransactions) -> dict[str, int]:
    """N requests one after another per target: exact Redis commands and PG transactions.

    Every PostgreSQL reading is taken after a flush and a settle (`PgTransactions.settled`);
    one scenario's closing reading opens the next one's. A window with no request in it
    comes first: what a target's database commits while idle for that long (our listeners'
    heartbeats, the flush itself) is subtracted from each scenario's window, so the figure
    is what the requests cost. Returns that idle baseline per target.
    """
    databases = {s.kind: s.database for _, sides in plan for s in sides if s.database}
    for side in {s.kind: s for _, sides in plan for s in sides}.values():
        if side.kind != "bare" and any(sc.authenticated for sc, _ in plan):
            side.log_in()  # before the first reading: logins are not counted
    for scenario, sides in plan:
        if scenario.cached_read:  # entries from the timed runs may have expired (300 s)
            for side in sides:
                requests, headers = scenario.requests(side)
                _send(side, requests, headers, len(requests))
    opened = pg.settled(databases)
    previous = pg.settled(databases)
    idle = {kind: previous[kind] - opened[kind] for kind in databases}
    for scenario, sides in plan:
        for side in sides:
            requests, headers = scenario.requests(side)
            scenario.prepare(side, login=False)
            scenario.before_run(side)
            n = scenario.sequential_requests
            before = redis_cmds.snapshot()
            errors = _send(side, requests, headers, n)
            delta = redis_cmds.snapshot()
            delta.subtract(before)
            measured = results[scenario.name][side.kind]
            measured.seq_requests, measured.seq_redis, measured.seq_errors = n, +delta, errors
        current = pg.settled(databases)
        for side in sides:
            if side.database:
                measured = results[scenario.name][side.kind]
                window = current[side.kind] - previous[side.kind]
                measured.seq_pg_xacts = max(0, window - idle[side.kind])
        previous = current
        log(f"accounting {scenario.name}: " + ", ".join(
            f"{s.kind} {results[scenario.name][s.kind].seq_redis_per_request:.2f} redis "
            f"{results[scenario.name][s.kind].pg_per_request:.2f} pg" for s in sides))
    return idle


def _send(side: Side, requests: list, headers: dict[str, str], n: int) -> int:
    """One keep-alive connection (reopened if the server closes it); returns non-2xx count."""
    errors = 0
    conn = http.client.HTTPConnection("127.0.0.1", side.server.port, timeout=30)
    try:
        for i in range(n):
            req = requests[i % len(requests)]
            body = req.body.encode() if req.body is not None else None
            conn.request(req.method, req.path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status >= 300:
                errors += 1
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", side.server.port, timeout=30)
    finally:
        conn.close()
    return errors
