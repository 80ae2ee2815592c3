"""bench/results.md: machine, versions, the table, where each target stands, the profile."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.inprocess import Counted
from bench.measure import Measured
from bench.profile import Profile
from bench.scenarios import SCENARIOS, Scenario
from bench.settings import BENCH, Settings

LABELS = {"ours": "Flask service", "peer": "Express peer", "bare": "bare Flask"}


@dataclass
class Report:
    settings: Settings
    machine: dict[str, str]
    versions: dict[str, str]
    results: dict[str, dict[str, Measured]] = field(default_factory=dict)
    counted: dict[str, Counted] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    workers: dict[str, Measured] = field(default_factory=dict)
    worker_notes: dict[str, str] = field(default_factory=dict)
    profiles: list[Profile] = field(default_factory=list)
    observations: list[str] = field(default_factory=list)


def _f(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def results_table(report: Report) -> list[str]:
    lines = [
        "| scenario | target | req/s | p50 ms | p99 ms | Redis cmds/req (under load) "
        "| Redis cmds/req (sequential) | Redis round trips/req | PG xacts/req | SQL stmts/req "
        "| x peer | x bare | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in SCENARIOS:
        if scenario.name in report.skipped:
            lines.append(f"| {scenario.title} | - | not run: {report.skipped[scenario.name]} "
                         "| | | | | | | | | | |")
            continue
        row = report.results.get(scenario.name)
        if not row:
            continue
        bare = row.get("bare")
        peer = row.get("peer")
        for kind in ("ours", "peer", "bare"):
            m = row.get(kind)
            if m is None:
                continue
            counted = report.counted.get(scenario.name) if kind == "ours" else None
            trips = _f(counted.per_request(counted.round_trips), 2) if counted else "-"
            stmts = _f(counted.per_request(counted.statements), 2) if counted else "-"
            vs_peer = _ratio(m.rps, peer.rps) if kind == "ours" and peer else ""
            vs_bare = _ratio(m.rps, bare.rps) if kind != "bare" and bare else ""
            pg = _f(m.pg_per_request, 2) if kind != "bare" else "-"
            lines.append(
                f"| {scenario.title if kind == 'ours' else ''} | {LABELS[kind]} "
                f"| {_f(m.rps)} | {_f(m.p50, 2)} | {_f(m.p99, 2)} "
                f"| {_f(m.redis_per_request, 2)} | {_f(m.seq_redis_per_request, 2)} | {trips} "
                f"| {pg} | {stmts} | {vs_peer} | {vs_bare} | {m.errors + m.seq_errors} |"
            )
    return lines


def _status(ok: bool | None, detail: str) -> str:
    if ok is None:
        return f"not measured ({detail})"
    return f"**met** ({detail})" if ok else f"**missed** ({detail})"


def targets_table(report: Report) -> list[str]:
    r, c = report.results, report.counted
    rows: list[tuple[str, str, str]] = []

    def get(name: str, kind: str) -> Measured | None:
        return r.get(name, {}).get(kind)

    ours, peer, bare = get("list_hit", "ours"), get("list_hit", "peer"), get("list_hit", "bare")
    if ours and peer:
        ratio = ours.rps / peer.rps
        rows.append(("cached GET /projects ≥ 0.6x Express peer (stretch 1.0x)", f"{ratio:.2f}x",
                     _status(ratio >= 0.6, "stretch met" if ratio >= 1.0 else
                             f"{ratio / 0.6:.0%} of the target; stretch missed by "
                             f"{1.0 - ratio:.2f}x")))
    else:
        rows.append(("cached GET /projects ≥ 0.6x peer", "-", _status(None, "route missing")))
    if ours and bare:
        ratio = ours.rps / bare.rps
        rows.append(("cached GET /projects ≥ 0.7x bare Flask", f"{ratio:.2f}x",
                     _status(ratio >= 0.7, f"{ratio / 0.7:.0%} of the target")))
    for name, limit, what in (("list_hit", 2, "anonymous cached read (GET /projects)"),
                              ("detail_hit", 2, "anonymous cached read (GET /projects/<id>)"),
                              ("me", 3, "authenticated cached read (GET /auth/me)")):
        counted = c.get(name)
        if counted:
            trips = counted.per_request(counted.round_trips)
            rows.append((f"≤ {limit} Redis round trips, {what}", f"{trips:.2f}",
                         _status(trips <= limit + 0.05,
                                 "within" if trips <= limit + 0.05 else
                                 f"{trips - limit:.2f} over")))
    for name in ("list_hit", "detail_hit", "me"):
        m = get(name, "ours")
        if m:
            title = next(s.title for s in SCENARIOS if s.name == name)
            rows.append((f"p99 < 50 ms at 32 connections, {title}", f"{m.p99:.1f} ms",
                         _status(m.p99 < 50, f"{50 - m.p99:+.1f} ms of headroom"
                                 if m.p99 < 50 else f"{m.p99 - 50:.1f} ms over")))
    small, large = get("online_1k", "ours"), get("online_100k", "ours")
    if small and large:
        cs, cl = c.get("online_1k"), c.get("online_100k")
        same_cmds = (cs and cl and cs.commands == cl.commands) or (
            abs(small.seq_redis_per_request - large.seq_redis_per_request) < 0.05)
        p50 = large.p50 / small.p50 if small.p50 else 0
        rps = large.rps / small.rps if small.rps else 0
        ok = bool(same_cmds) and 0.8 <= p50 <= 1.2
        rows.append(("/stats/online: same Redis commands at 1,000 and 100,000 users",
                     f"{small.seq_redis_per_request:.2f} vs {large.seq_redis_per_request:.2f}",
                     _status(bool(same_cmds), "same commands" if same_cmds else "differ")))
        rows.append(("/stats/online: same latency ±20% (p50) at 1,000 vs 100,000",
                     f"p50 x{p50:.2f}, req/s x{rps:.2f}",
                     _status(ok, f"p50 {small.p50:.2f} -> {large.p50:.2f} ms")))
    lines = ["| target | measured | status |", "|---|---:|---|"]
    lines += [f"| {a} | {b} | {s} |" for a, b, s in rows]
    return lines


def command_breakdown(report: Report) -> list[str]:
    lines = ["| scenario | Flask service (in process, per request) | Flask service (commandstats, "
             "sequential) | Express peer (commandstats, sequential) |", "|---|---|---|---|"]
    for scenario in SCENARIOS:
        row = report.results.get(scenario.name)
        if not row:
            continue
        counted = report.counted.get(scenario.name)
        inproc = _per(counted.commands, counted.requests) if counted else "-"
        cells = [_per(row[k].seq_redis, row[k].seq_requests) if k in row else "-"
                 for k in ("ours", "peer")]
        lines.append(f"| {scenario.title} | {inproc} | {cells[0]} | {cells[1]} |")
    return lines


def _per(counter: object, n: int) -> str:
    items = sorted(counter.items(), key=lambda kv: -kv[1])  # type: ignore[attr-defined]
    shown = [f"{name} {count / n:.2f}" for name, count in items if n and count / n >= 0.01]
    return ", ".join(shown) or "none"


def worker_table(report: Report) -> list[str]:
    lines = ["| worker class | req/s | p50 ms | p99 ms | errors | note |",
             "|---|---:|---:|---:|---:|---|"]
    for name, m in report.workers.items():
        lines.append(f"| {name} | {_f(m.rps)} | {_f(m.p50, 2)} | {_f(m.p99, 2)} | {m.errors} "
                     f"| {report.worker_notes.get(name, '')} |")
    for name, note in report.worker_notes.items():
        if name not in report.workers:
            lines.append(f"| {name} | - | - | - | - | {note} |")
    return lines


def profile_section(profiles: list[Profile]) -> list[str]:
    if not profiles:
        return ["Not recorded in this run (py-spy unavailable or failed; see the log)."]
    lines: list[str] = []
    for profile in profiles:
        lines += _profile(profile)
    return lines


def _profile(profile: Profile) -> list[str]:
    title = scenario_by_name(profile.name).title
    lines = [f"### {title}", "",
             f"py-spy, {profile.samples} samples inside requests on both workers of the Flask "
             f"service while wrk drove {title} (raw stacks: "
             f"`bench/out/{profile.raw.name}`). Shares are of wall time inside requests, "
             "waiting on Redis or PostgreSQL included.", "",
             "Time on the stack (inclusive):", "", "| frame | share |", "|---|---:|"]
    lines += [f"| `{f}` | {s:.1%} |" for f, s in profile.inclusive]
    lines += ["", "Time running (self):", "", "| frame | share |", "|---|---:|"]
    lines += [f"| `{f}` | {s:.1%} |" for f, s in profile.leaf]
    return [*lines, ""]


def render(report: Report) -> str:
    s = report.settings
    mode = "quick (BENCH_QUICK=1)" if s.quick else "full"
    out = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; {mode} mode: "
        f"{s.rounds} round(s) x {s.duration} s per target, {s.warmup} s warm-up, "
        f"wrk with {s.connections} connections and {s.threads} threads, targets alternating "
        "(the order rotates every round). How it is measured: [README.md](README.md).",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in report.machine.items()],
        "",
        "## Versions",
        "",
        *[f"- {k}: {v}" for k, v in report.versions.items()],
        "",
        "## Results",
        "",
        "req/s is the median of the rounds; p50 the median of the rounds' p50; p99 the worst "
        "round's p99. Redis cmds/req under load come from `INFO commandstats` deltas around "
        "each run (the whole server, so an upper bound when other dbs are busy); sequential "
        "figures from N requests sent one by one; round trips and SQL statements from inside "
        "one app instance (see README). PG xacts/req: `pg_stat_database` "
        "`xact_commit + xact_rollback` of the target's own database (`pg_stat_statements` is "
        "not preloaded on this server). errors: non-2xx responses and socket errors.",
        "",
        *results_table(report),
        "",
        "## Targets",
        "",
        *targets_table(report),
        "",
        "## Redis commands per request, by command",
        "",
        *command_breakdown(report),
        "",
        "## gunicorn worker class (cached GET /projects, Flask service)",
        "",
        "Same instance settings (`WEB_CONCURRENCY=2`, production config), rounds alternating.",
        "",
        *worker_table(report),
        "",
        "## Profiles",
        "",
        *profile_section(report.profiles),
        "",
    ]
    if report.observations:
        out += ["## Observations from this run", "", *[f"- {o}" for o in report.observations],
                ""]
    notes = BENCH / "notes.md"
    if notes.exists():
        out += [notes.read_text().rstrip(), ""]
    return "\n".join(out)


def write(report: Report, path: Path) -> None:
    path.write_text(render(report))


def scenario_by_name(name: str) -> Scenario:
    return next(s for s in SCENARIOS if s.name == name)
