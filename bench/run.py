"""`make bench`: seed, start the targets, drive them with wrk, write bench/results.md.

The targets are our service, a bare Flask app and, when PEER_DIR names a checkout of it, the
Express peer. Everything started here (gunicorn, node, wrk, py-spy) runs in its own process
group and is stopped in `finally`, also when a step fails or the run is interrupted.
"""
from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import Any

import redis

from bench import environment, targets
from bench.calls import WARMUP, count_calls
from bench.counters import PgTransactions, RedisCommands
from bench.inprocess import count, production_app
from bench.measure import Measured, accounting, timed
from bench.parts import count_parts
from bench.profile import record
from bench.report import LABELS, Report, scenario_by_name, write
from bench.scenarios import Scenario, selected
from bench.settings import BENCH, PEER_NOT_RUN, Settings, log
from bench.sides import Side, register_our_user, use_peer_user
from bench.targets import PRODUCTION
from bench.wrk import Request, ensure_wrk, run_wrk, write_script
from scripts.processes import ServerProcess

PROFILED = ("list_hit", "detail_miss")  # the path the targets are about, and the slowest read
FLOORED = ("list_hit", "detail_hit")  # the cached reads the throughput targets are about


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    settings = Settings()
    ensure_wrk()
    if settings.peer_source is None:
        log(f"{PEER_NOT_RUN}: comparing with bare Flask only")
    servers: list[ServerProcess] = []
    try:
        report = bench(settings, servers)
    finally:
        for server in servers:
            server.stop()
        log("every target stopped")
    write(report, BENCH / "results.md")
    log("wrote bench/results.md")
    return 0


def start(server: ServerProcess, servers: list[ServerProcess],
          timeout: float = 60.0) -> ServerProcess:
    servers.append(server)
    server.start(timeout)
    log(f"{server.name} ready on :{server.port}")
    return server


def bench(settings: Settings, servers: list[ServerProcess]) -> Report:
    log("preparing our database (seed-demo)")
    targets.prepare_ours(settings)
    if settings.peer_source is not None:
        log(f"preparing the Express peer from {settings.peer_source} (npm ci, seed.js)")
        targets.prepare_peer(settings)
    ours = start(targets.ours(settings), servers)
    peer = start(targets.peer(settings), servers) if settings.peer_source else None
    bare = start(targets.bare(settings), servers)
    sides = make_sides(settings, ours, peer, bare)
    report = Report(settings, environment.machine(), environment.versions(peer is not None))
    report.machine["load average at start"] = environment.load()
    redis_cmds = RedisCommands(settings.redis_url(settings.our_redis_db))
    pg = PgTransactions(settings.pg_url)

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
    idle = accounting(plan, report.results, redis_cmds, pg)
    report.observations.append(
        "PostgreSQL transactions in an accounting window with no request (subtracted from "
        "each scenario's): " + ", ".join(f"{LABELS[kind]} {n}" for kind, n in idle.items()))
    count_in_process(settings, plan, report)
    compare_worker_classes(settings, sides[0], servers, report)
    compare_access_logs(settings, sides[0], servers, report)
    compare_floor(settings, sides[0], servers, report)
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


def make_sides(settings: Settings, ours: ServerProcess, peer: ServerProcess | None,
               bare: ServerProcess) -> list[Side]:
    """Ours first, then the peer (when it runs), then bare Flask."""
    our = Side("ours", ours, redis.Redis.from_url(settings.redis_url(settings.our_redis_db)),
               settings.our_db, targets.read_ids(settings, settings.our_db, settings.projects))
    register_our_user(our)
    sides = [our]
    if peer is not None:
        other = Side("peer", peer,
                     redis.Redis.from_url(settings.redis_url(settings.peer_redis_db)),
                     settings.peer_db,
                     targets.read_ids(settings, settings.peer_db, settings.projects))
        use_peer_user(other)
        sides.append(other)
    return [*sides, Side("bare", bare)]


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
    """Inside one instance of our app: Redis round trips and SQL statements per request,
    then Python function calls per request (cProfile), and bare Flask's calls the same way."""
    from bench.bare_app import app as bare_app

    log("in process: round trips, SQL statements and Python calls per request")
    report.bare_calls = count_calls(bare_app, [Request("GET", "/")], {},
                                    settings.calls_requests)
    with production_app(settings) as app:
        for scenario, sides in plan:
            side = sides[0]
            scenario.prepare(side)
            slow = scenario.name == "login"  # a password hash per request
            report.counted[scenario.name] = count(app, scenario, side, 20 if slow else 100)
            requests, headers = scenario.requests(side)
            scenario.before_run(side)  # a miss run starts with no cached project
            warmup = max(WARMUP, len(requests)) if scenario.cached_read else WARMUP
            n = settings.calls_requests // 10 if slow else settings.calls_requests
            calls = count_calls(app, requests, headers, n, 5 if slow else warmup)
            report.calls[scenario.name] = calls
            if scenario.name == "list_hit":
                report.parts = count_parts(app, requests[0], headers)
            log(f"calls {scenario.name}: {calls.per_request:,.0f} per request "
                f"({report.bare_calls.per_request:,.0f} bare), statuses {dict(calls.statuses)}")


WORKER_VARIANTS = {  # our service started again as each (`targets.our_env`), and its note
    "sync": "the service's sync worker (`SyncWorker`): one request at a time, closing each "
            "connection at once when the client has sent everything",
    "gunicorn-sync": "gunicorn's own sync worker: it waits for the client's close after every "
                     "response",
    "gthread": "--threads 4 (keep-alive)",
    "gunicorn-gevent": "gunicorn's own gevent worker: kept-alive connections, never yielding "
                       "between a connection's requests",
    "gevent-4": "production, WEB_CONCURRENCY=4 (two per CPU here)",
}


def compare_worker_classes(settings: Settings, ours: Side,
                           servers: list[ServerProcess], report: Report) -> None:
    """The production worker (gunicorn.conf.py) vs the `WORKER_VARIANTS`."""
    if "list_hit" not in report.results:
        return
    notes = report.worker_notes
    notes[PRODUCTION] = ("gunicorn.conf.py: gevent, the process cooperative, yielding to the "
                         "other connections after each request (`GeventWorker`, "
                         "`marketplace/adapters/gunicorn.py`)")
    names = list(WORKER_VARIANTS)
    report.workers = compare_variants(settings, "list_hit", ours, names, servers, notes)
    for name, note in WORKER_VARIANTS.items():
        notes.setdefault(name, note)


def compare_access_logs(settings: Settings, ours: Side,
                        servers: list[ServerProcess], report: Report) -> None:
    """Our access line vs gunicorn's access log vs none, on the cheapest route."""
    if "health" not in report.results:
        return
    report.access_notes[PRODUCTION] = "the service's line (`logs.AccessLog`), production"
    report.access_logs = compare_variants(settings, "health", ours,
                                          ["gunicorn-access", "no-access"], servers,
                                          report.access_notes)
    report.access_notes.setdefault(
        "gunicorn-access", f"gunicorn's: `{targets.GUNICORN_ACCESS_FORMAT}`")
    report.access_notes.setdefault("no-access", "none (`LOG_LEVEL=WARNING`)")


def compare_floor(settings: Settings, ours: Side, servers: list[ServerProcess],
                  report: Report) -> None:
    """The cached list and detail against the floor of their round trip
    (`bench/floor_app.py`), rounds alternating: how much of the distance to bare Flask and to
    the peer is the service's own code."""
    for name in FLOORED:
        if name not in report.results:
            continue
        notes = report.floor_notes.setdefault(name, {})
        notes[PRODUCTION] = "the service as deployed (its front answers)"
        report.floor[name] = compare_variants(
            settings, name, ours, ["floor"], servers, notes,
            make=lambda _name: targets.floor(settings))
        notes.setdefault("floor", "the same round trip and bytes, no other code")


def compare_variants(settings: Settings, scenario_name: str, ours: Side,
                     names: list[str], servers: list[ServerProcess],
                     notes: dict[str, str],
                     make: Callable[[str], ServerProcess] | None = None,
                     ) -> dict[str, Measured]:
    """Our production instance (`PRODUCTION`) against instances started as `names` (by `make`,
    our service in that variant by default), on one scenario, rounds alternating (the
    order rotates); the variants are stopped after. `ours` gives the scenario its ids."""
    scenario = scenario_by_name(scenario_name)
    candidates = {PRODUCTION: ours.server}
    for name in names:
        try:
            server = make(name) if make else targets.ours(settings, name)
            candidates[name] = start(server, servers)
        except RuntimeError as exc:
            notes[name] = f"did not start: {str(exc)[:120]}"
    requests, headers = scenario.requests(ours)
    script = write_script(f"variants-{scenario_name}", requests, headers, settings.threads)
    results = {name: Measured() for name in candidates}
    for server in candidates.values():
        run_wrk(server.url, script, settings.warmup, settings.connections, settings.threads)
    for round_no in range(settings.rounds):
        order = list(candidates)
        shift = round_no % len(order)
        for name in order[shift:] + order[:shift]:
            cpu_before = candidates[name].cpu_seconds()
            result = run_wrk(candidates[name].url, script, settings.duration,
                             settings.connections, settings.threads)
            results[name].cpu_seconds += candidates[name].cpu_seconds() - cpu_before
            results[name].runs.append(result)
            log(f"{scenario_name} {name:15s} {result.rps:8.0f} req/s p99 "
                f"{result.p99_ms:6.2f} ms")
    for name, server in candidates.items():
        if name in names:
            server.stop()
    return results


if __name__ == "__main__":
    sys.exit(main())
