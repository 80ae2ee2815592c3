"""`make bench`: seed, start the three targets, drive them with wrk, write bench/results.md.

Everything started here (gunicorn, node, wrk, py-spy) runs in its own process group and is
stopped in `finally`, also when a step fails or the run is interrupted.
"""
from __future__ import annotations

import contextlib
import signal
import sys
from typing import Any

import redis

from bench import environment, targets
from bench.counters import PgTransactions, RedisCommands
from bench.inprocess import count
from bench.measure import Measured, accounting, timed
from bench.procs import Server, log
from bench.profile import record
from bench.report import Report, scenario_by_name, write
from bench.scenarios import Scenario, selected
from bench.settings import BENCH, Settings
from bench.sides import Side, register_our_user, use_peer_user
from bench.wrk import ensure_wrk, run_wrk, write_script

PROFILED = ("list_hit", "detail_miss")  # the path the targets are about, and the slowest read


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    settings = Settings()
    ensure_wrk()
    servers: list[Server] = []
    try:
        report = bench(settings, servers)
    finally:
        for server in servers:
            server.stop()
        log("every target stopped")
    write(report, BENCH / "results.md")
    log("wrote bench/results.md")
    return 0


def start(server: Server, servers: list[Server]) -> Server:
    servers.append(server)
    server.start()
    return server


def bench(settings: Settings, servers: list[Server]) -> Report:
    log("preparing databases: ours (seed-demo) and the Express peer (npm ci, seed.js)")
    targets.prepare_ours(settings)
    targets.prepare_peer(settings)
    ours = start(targets.ours(settings), servers)
    peer = start(targets.peer(settings), servers)
    bare = start(targets.bare(settings), servers)
    sides = make_sides(settings, ours, peer, bare)
    report = Report(settings, environment.machine(), environment.versions())
    report.machine["load average at start"] = environment.load()
    redis_cmds = RedisCommands(settings.redis_url(settings.our_redis_db))
    pg = PgTransactions(settings.pg_url("postgres"))

    plan: list[tuple[Scenario, list[Side]]] = []
    for scenario in selected(settings.only):
        runnable = [s for s in sides if can_run(scenario, s)]
        if sides[0] not in runnable:
            report.skipped[scenario.name] = "route not in the service yet"
            log(f"skip {scenario.name}: our service has no {scenario.method} {scenario.path}")
            continue
        for side in runnable:
            scenario.prepare(side)
        report.results[scenario.name] = timed(scenario, runnable, settings, redis_cmds)
        plan.append((scenario, runnable))
        check_presence(scenario, runnable, report)
        if scenario.method == "GET" and scenario.name != "health":
            sizes = ", ".join(f"{s.label} {s.body_size(scenario.requests(s)[0][0].path):,} B"
                              for s in runnable if s.kind != "bare")
            report.observations.append(f"{scenario.name}: response body sizes: {sizes}")

    log("accounting pass: sequential requests, Redis commands and PostgreSQL transactions")
    accounting(plan, report.results, redis_cmds, pg)
    count_in_process(settings, plan, report)
    compare_worker_classes(settings, ours, servers, report)
    report.machine["load average at end"] = environment.load()
    for name in PROFILED:
        if name in report.results:
            scenario = scenario_by_name(name)
            requests, headers = scenario.requests(sides[0])
            script = write_script(f"profile-{name}", requests, headers, settings.threads)
            scenario.before_run(sides[0])
            profile = record(ours, script, settings, name)
            if profile is not None:
                report.profiles.append(profile)
    return report


def can_run(scenario: Scenario, side: Side) -> bool:
    """The bare app stands in everywhere; the others need the route (and data for ids)."""
    if side.kind == "bare":
        return True
    if (side.kind == "peer" and not scenario.peer) or (scenario.ids and not side.ids):
        return False
    return side.has_route(scenario.method, scenario.requests(side)[0][0].path)


def make_sides(settings: Settings, ours: Server, peer: Server, bare: Server) -> list[Side]:
    our = Side("ours", ours, redis.Redis.from_url(settings.redis_url(settings.our_redis_db)),
               settings.our_db, targets.read_ids(settings, settings.our_db, settings.projects))
    other = Side("peer", peer,
                 redis.Redis.from_url(settings.redis_url(settings.peer_redis_db)),
                 settings.peer_db, targets.read_ids(settings, settings.peer_db, settings.projects))
    register_our_user(our)
    use_peer_user(other)
    return [our, other, Side("bare", bare)]


def check_presence(scenario: Scenario, sides: list[Side], report: Report) -> None:
    """The online count must show the users the bench put there, or the scenario is void."""
    if not scenario.presence:
        return
    for side in sides:
        if side.kind == "bare":
            continue
        status, body = side.call("GET", scenario.path)
        seen = body.get("onlineUsers") if isinstance(body, dict) else None
        report.observations.append(
            f"{scenario.name}: {side.label} answered {status} with onlineUsers={seen} "
            f"({scenario.presence:,} filled in)")


def count_in_process(settings: Settings, plan: list[tuple[Scenario, list[Side]]],
                     report: Report) -> None:
    """Round trips and SQL statements per request inside one instance of our app."""
    from config import load_config
    from marketplace import close_app, create_app

    env = {**targets.our_env(settings, 0), "LOG_LEVEL": "WARNING"}  # counts, not logs
    app = create_app(load_config(env))
    try:
        for scenario, sides in plan:
            side = sides[0]
            scenario.prepare(side)
            n = 20 if scenario.name == "login" else 100
            report.counted[scenario.name] = count(app, scenario, side, n)
    finally:
        with contextlib.suppress(Exception):
            close_app(app)


def compare_worker_classes(settings: Settings, sync: Server, servers: list[Server],
                           report: Report) -> None:
    """sync (the production default) vs gthread (--threads 4) vs gevent, alternating rounds."""
    scenario = scenario_by_name("list_hit")
    if "list_hit" not in report.results:
        return
    candidates = {"sync": sync}
    report.worker_notes["sync"] = "production default (gunicorn.conf.py)"
    for name in ("sync-4", "gthread", "gevent"):
        if name == "gevent" and not targets.ensure_gevent():
            report.worker_notes[name] = "gevent could not be installed"
            continue
        try:
            candidates[name] = start(targets.ours(settings, name), servers)
        except RuntimeError as exc:
            report.worker_notes[name] = f"did not start: {str(exc)[:120]}"
    report.worker_notes.setdefault("sync-4", "sync, WEB_CONCURRENCY=4 (two per CPU here)")
    report.worker_notes.setdefault("gthread", "--threads 4 (keep-alive)")
    report.worker_notes.setdefault("gevent", "worker_connections 1000 (keep-alive)")
    side_stub = Side("ours", sync)
    requests, headers = scenario.requests(side_stub)
    script = write_script("workers-list_hit", requests, headers, settings.threads)
    results = {name: Measured() for name in candidates}
    for server in candidates.values():
        run_wrk(server.base_url, script, settings.warmup, settings.connections, settings.threads)
    for round_no in range(settings.rounds):
        names = list(candidates)
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            result = run_wrk(candidates[name].base_url, script, settings.duration,
                             settings.connections, settings.threads)
            results[name].runs.append(result)
            log(f"worker {name:7s} {result.rps:8.0f} req/s p99 {result.p99_ms:6.2f} ms")
    report.workers = results
    for name, server in candidates.items():
        if name != "sync":
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
