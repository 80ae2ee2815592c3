"""bench/results.md: machine, versions, the table, where each target stands, the profile."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.calls import CallCount
from bench.inprocess import Counted
from bench.measure import Measured
from bench.profile import Profile
from bench.scenarios import SCENARIOS, Scenario
from bench.settings import BENCH, PEER_NOT_RUN, Settings
from bench.targets import PRODUCTION

LABELS = {"ours": "Flask service", "peer": "Express peer", "bare": "bare Flask"}


@dataclass
class Report:
    settings: Settings
    machine: dict[str, str]
    versions: dict[str, str]
    results: dict[str, dict[str, Measured]] = field(default_factory=dict)
    counted: dict[str, Counted] = field(default_factory=dict)
    calls: dict[str, CallCount] = field(default_factory=dict)  # ours, per scenario
    bare_calls: CallCount | None = None
    parts: dict[str, float] = field(default_factory=dict)  # a cached list read, by part
    skipped: dict[str, str] = field(default_factory=dict)
    workers: dict[str, Measured] = field(default_factory=dict)
    worker_notes: dict[str, str] = field(default_factory=dict)
    access_logs: dict[str, Measured] = field(default_factory=dict)
    access_notes: dict[str, str] = field(default_factory=dict)
    floor: dict[str, dict[str, Measured]] = field(default_factory=dict)  # by scenario
    floor_notes: dict[str, dict[str, str]] = field(default_factory=dict)
    profiles: list[Profile] = field(default_factory=list)
    observations: list[str] = field(default_factory=list)

    @property
    def peer_ran(self) -> bool:
        return self.settings.peer_source is not None


def _f(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def _title(name: str) -> str:
    return scenario_by_name(name).title


def results_table(report: Report) -> list[str]:
    lines = [
        "| scenario | target | req/s (median) | req/s (min-max) | p50 ms | p99 ms "
        "| worker CPU s / 10k req | x peer | x bare | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in SCENARIOS:
        if scenario.name in report.skipped:
            lines.append(f"| {scenario.title} | - | not run: {report.skipped[scenario.name]} "
                         "| | | | | | | |")
            continue
        row = report.results.get(scenario.name)
        if not row:
            continue
        bare, peer = row.get("bare"), row.get("peer")
        for kind in ("ours", "peer", "bare"):
            m = row.get(kind)
            if m is None:
                continue
            low, high = m.rps_range
            vs_peer = _ratio(m.rps, peer.rps) if kind == "ours" and peer else ""
            vs_bare = _ratio(m.rps, bare.rps) if kind != "bare" and bare else ""
            lines.append(
                f"| {scenario.title if kind == 'ours' else ''} | {LABELS[kind]} "
                f"| {_f(m.rps)} | {_f(low)} to {_f(high)} | {_f(m.p50, 2)} | {_f(m.p99, 2)} "
                f"| {_f(m.cpu_per_10k, 2)} | {vs_peer} | {vs_bare} "
                f"| {m.errors + m.seq_errors} |"
            )
    return lines


def work_table(report: Report) -> list[str]:
    """What one request costs beyond time: Redis commands and round trips, PostgreSQL."""
    lines = [
        "| scenario | target | Redis cmds/req (under load) | Redis cmds/req (sequential) "
        "| Redis round trips/req | PG xacts/req | SQL stmts/req |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for scenario in SCENARIOS:
        row = report.results.get(scenario.name)
        if not row:
            continue
        for kind in ("ours", "peer"):
            m = row.get(kind)
            if m is None:
                continue
            counted = report.counted.get(scenario.name) if kind == "ours" else None
            trips = _f(counted.per_request(counted.round_trips), 2) if counted else "-"
            stmts = _f(counted.per_request(counted.statements), 2) if counted else "-"
            lines.append(
                f"| {scenario.title if kind == 'ours' else ''} | {LABELS[kind]} "
                f"| {_f(m.redis_per_request, 2)} | {_f(m.seq_redis_per_request, 2)} | {trips} "
                f"| {_f(m.pg_per_request, 2)} | {stmts} |")
    return lines


def calls_table(report: Report) -> list[str]:
    bare = report.bare_calls
    if bare is None or not report.calls:
        return ["Not measured in this run."]
    lines = ["| scenario | Flask service calls/req | bare Flask calls/req | x bare "
             "| requests profiled (statuses) |", "|---|---:|---:|---:|---|"]
    for scenario in SCENARIOS:
        counted = report.calls.get(scenario.name)
        if counted is None:
            continue
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(counted.statuses.items()))
        lines.append(f"| {scenario.title} | {_f(counted.per_request)} "
                     f"| {_f(bare.per_request)} | {_ratio(counted.per_request, bare.per_request)} "
                     f"| {counted.requests} ({statuses}) |")
    return lines


def parts_section(report: Report) -> list[str]:
    """The cached list read's calls split by the part of the request making them."""
    if not report.parts:
        return []
    total = sum(report.parts.values())
    return [
        "### One cached read, part by part",
        "",
        "Cached `GET /projects?per_page=20`, the same calls split by where they happen "
        "(`bench/parts.py`: each call charged to the innermost part running; the walk "
        "through the code is in docs/performance.md).",
        "",
        "| part | calls/req |",
        "|---|---:|",
        *[f"| {part} | {_f(calls)} |" for part, calls in report.parts.items()],
        f"| **total** | **{_f(total)}** |",
        "",
    ]


def _status(ok: bool | None, detail: str) -> str:
    if ok is None:
        return f"not measured ({detail})"
    return f"**met** ({detail})" if ok else f"**missed** ({detail})"


def _throughput_rows(report: Report, name: str) -> list[tuple[str, str, str]]:
    """≥ 0.6x the peer (stretch 1.0x) and ≥ 0.7x bare Flask in req/s."""
    title = _title(name)
    row = report.results.get(name, {})
    ours, peer, bare = row.get("ours"), row.get("peer"), row.get("bare")
    what = f"{title}: req/s ≥ 0.6x Express peer (stretch ≥ 1.0x)"
    if not report.peer_ran:
        rows = [(what, "-", _status(None, "peer not run"))]
    elif ours and peer and peer.rps:
        ratio = ours.rps / peer.rps
        detail = ("stretch met" if ratio >= 1.0 else
                  f"{ratio / 0.6:.0%} of the target; stretch missed by {1.0 - ratio:.2f}x")
        rows = [(what, f"{ratio:.2f}x", _status(ratio >= 0.6, detail))]
    else:
        rows = [(what, "-", _status(None, "not run on both"))]
    what = f"{title}: req/s ≥ 0.7x bare Flask"
    if ours and bare and bare.rps:
        ratio = ours.rps / bare.rps
        rows.append((what, f"{ratio:.2f}x", _status(ratio >= 0.7, f"{ratio / 0.7:.0%} of the "
                                                                   "target")))
    else:
        rows.append((what, "-", _status(None, "not run")))
    return rows


def targets_table(report: Report) -> list[str]:
    r, c = report.results, report.counted
    rows: list[tuple[str, str, str]] = []

    def get(name: str, kind: str) -> Measured | None:
        return r.get(name, {}).get(kind)

    for name in ("list_hit", "detail_hit"):
        rows += _throughput_rows(report, name)
    for name in ("list_hit", "detail_hit", "me"):
        m = get(name, "ours")
        what = f"p99 < 50 ms at {report.settings.connections} connections, {_title(name)}"
        if m is None:
            rows.append((what, "-", _status(None, "not run")))
        else:
            rows.append((what, f"{m.p99:.1f} ms",
                         _status(m.p99 < 50, f"{50 - m.p99:+.1f} ms of headroom"
                                 if m.p99 < 50 else f"{m.p99 - 50:.1f} ms over")))
    bare = report.bare_calls
    for name, limit in (("list_hit", 2.5), ("detail_hit", 2.5), ("health", 1.6), ("me", 4.0)):
        counted = report.calls.get(name)
        what = f"Python calls per request ≤ {limit}x bare Flask, {_title(name)}"
        if counted is None or bare is None or not bare.per_request:
            rows.append((what, "-", _status(None, "not run")))
            continue
        ratio = counted.per_request / bare.per_request
        rows.append((what, f"{ratio:.2f}x ({counted.per_request:,.0f} vs "
                           f"{bare.per_request:,.0f})",
                     _status(ratio <= limit, "within" if ratio <= limit else
                             f"{counted.per_request - limit * bare.per_request:,.0f} calls "
                             "over")))
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
    kinds = ("ours", "peer") if report.peer_ran else ("ours",)
    head = "| scenario | Flask service (in process, per request) | Flask service (commandstats, "
    head += ("sequential) | Express peer (commandstats, sequential) |" if report.peer_ran
             else "sequential) |")
    lines = [head, "|---|---|---|" + ("---|" if report.peer_ran else "")]
    for scenario in SCENARIOS:
        row = report.results.get(scenario.name)
        if not row:
            continue
        counted = report.counted.get(scenario.name)
        inproc = _per(counted.commands, counted.requests) if counted else "-"
        cells = [_per(row[k].seq_redis, row[k].seq_requests) if k in row else "-"
                 for k in kinds]
        lines.append(f"| {scenario.title} | {inproc} | " + " | ".join(cells) + " |")
    return lines


def _per(counter: object, n: int) -> str:
    items = sorted(counter.items(), key=lambda kv: -kv[1])  # type: ignore[attr-defined]
    shown = [f"{name} {count / n:.2f}" for name, count in items if n and count / n >= 0.01]
    return ", ".join(shown) or "none"


def variant_table(first: str, measured: dict[str, Measured],
                  notes: dict[str, str]) -> list[str]:
    lines = [f"| {first} | req/s (median) | req/s (min-max) | p50 ms | p99 ms "
             "| worker CPU s / 10k req | errors | note |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for name, m in measured.items():
        low, high = m.rps_range
        lines.append(f"| {name} | {_f(m.rps)} | {_f(low)} to {_f(high)} | {_f(m.p50, 2)} "
                     f"| {_f(m.p99, 2)} | {_f(m.cpu_per_10k, 2)} | {m.errors} "
                     f"| {notes.get(name, '')} |")
    for name, note in notes.items():
        if name not in measured:
            lines.append(f"| {name} | - | - | - | - | - | - | {note} |")
    return lines


def floor_section(report: Report) -> list[str]:
    """The cached list and detail beside the floor of their round trip, with bare Flask's
    and the peer's runs of the same scenario in the results table."""
    if not report.floor:
        return []
    lines = [
        "## The floor of one round trip (cached reads)",
        "",
        "The service against `bench/floor_app.py`, rounds alternating: a plain WSGI function "
        "that makes the service's one Redis round trip (the limit's `EVALSHA`, the `MGET` of "
        "the entry, and of the list marker for a list) and answers the stored bytes, with "
        "nothing else on the request path: what any Python service that counts every request "
        "in the shared Redis and answers from its cache must at least do, under the same "
        "gunicorn settings.",
        "",
    ]
    for name, measured in report.floor.items():
        ours, floor = measured.get(PRODUCTION), measured.get("floor")
        lines += [f"### {_title(name)}", "",
                  *variant_table("target", measured, report.floor_notes.get(name, {})), ""]
        if not (ours and floor and floor.rps):
            continue
        lines.append(f"The service reaches {ours.rps / floor.rps:.2f}x the floor's req/s and "
                     f"uses {_ratio(ours.cpu_per_10k, floor.cpu_per_10k)} its worker CPU per "
                     "request.")
        main = report.results.get(name, {})
        for kind, label in (("bare", "bare Flask's"), ("peer", "the Express peer's")):
            other = main.get(kind)
            if other and other.rps:
                lines.append(f"The floor itself is {floor.rps / other.rps:.2f}x {label} req/s "
                             "in the results table above.")
        lines.append("")
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
    peer = ("Express peer: run (PEER_DIR set; its copy in `bench/out/peer`)." if report.peer_ran
            else f"**{PEER_NOT_RUN}.** The service is compared with bare Flask only; every "
                 "target against the Express peer reads \"not measured (peer not run)\".")
    out = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M UTC}; {mode} mode: "
        f"{s.rounds} round(s) x {s.duration} s per target, {s.warmup} s warm-up, "
        f"wrk with {s.connections} connections and {s.threads} threads, targets alternating "
        "(the order rotates every round). How it is measured: [README.md](README.md).",
        "",
        peer,
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
        "req/s is the median of the rounds, with the slowest and fastest round beside it; p50 "
        "the median of the rounds' p50; p99 the worst round's p99. Worker CPU: user + system "
        "CPU seconds of the target's processes (gunicorn master and workers, node primary and "
        "cluster workers, from `/proc/<pid>/stat`) over the timed runs, per 10,000 requests "
        "served: what an instance pays per request, whatever else the machine was doing. "
        "errors: non-2xx responses and socket errors.",
        "",
        *results_table(report),
        "",
        "## Python function calls per request (in process, cProfile)",
        "",
        "Deterministic (to a few calls, see README): the same request makes the same calls "
        "on a busy machine. Each app "
        "called directly as WSGI with a fresh environ per request, after a warm-up; our app "
        "with the production configuration and its INFO log lines written to /dev/null. "
        "Bare Flask's one route is the floor for every row.",
        "",
        *calls_table(report),
        "",
        *parts_section(report),
        "## Work per request",
        "",
        "Redis cmds/req under load come from `INFO commandstats` deltas around each run (the "
        "whole server, so an upper bound when other dbs are busy); sequential figures from N "
        "requests sent one by one; round trips and SQL statements from inside one app "
        "instance (see README). PG xacts/req: `pg_stat_database` `xact_commit + "
        "xact_rollback` of the target's own database over the sequential requests, each "
        "reading after a `NOTIFY` that makes listening backends report and an 11 s settle, "
        "less what the database commits in a window with no request (under Observations; "
        "`pg_stat_statements` is not preloaded on this server). Ours includes one "
        "transaction per listening worker for each write's notification.",
        "",
        *work_table(report),
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
        *variant_table("worker class", report.workers, report.worker_notes),
        "",
        "## The access line (`GET /api/v1/health`, Flask service)",
        "",
        "The same instance three ways, rounds alternating: the service's own access line "
        "(production), gunicorn's access log with the request id instead "
        "(`LOG_LEVEL=WARNING`, `--access-logfile -`), and no access line at all.",
        "",
        *variant_table("access line", report.access_logs, report.access_notes),
        "",
        *floor_section(report),
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
