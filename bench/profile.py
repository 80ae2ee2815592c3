"""Where a cached GET /projects spends its time: py-spy samples of the gunicorn workers."""
from __future__ import annotations

import sys
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.settings import OUT, Settings, log
from bench.wrk import run_wrk
from scripts.processes import ServerProcess, run_quietly

TOOLS = OUT / "tools"
PY_SPY = TOOLS / "bin" / "py-spy"


@dataclass
class Profile:
    name: str
    samples: int
    inclusive: list[tuple[str, float]]  # (frame, share of samples with it on the stack)
    leaf: list[tuple[str, float]]  # (frame, share of samples where it is running)
    raw: Path


def ensure_py_spy() -> bool:
    """py-spy from PyPI into bench/out/tools (a profiling tool, not a project dependency)."""
    if PY_SPY.exists():
        return True
    try:
        run_quietly([sys.executable, "-m", "pip", "install", "-q", "--target", str(TOOLS),
                     "py-spy"])
    except RuntimeError as exc:
        log(f"py-spy not installable, profile skipped: {exc}")
        return False
    return PY_SPY.exists()


def record(server: ServerProcess, script: Path, settings: Settings,
           name: str) -> Profile | None:
    """Sample every worker while wrk drives one scenario."""
    if not ensure_py_spy() or server.process is None:
        return None
    seconds = settings.profile_seconds
    raw = OUT / f"profile-{name}.txt"
    load = threading.Thread(target=run_wrk, args=(server.url, script, seconds + 2,
                                                  settings.connections, settings.threads))
    load.start()
    try:
        cmd = [str(PY_SPY), "record", "--pid", str(server.process.pid), "--subprocesses",
               "--duration", str(seconds), "--rate", "200", "--format", "raw",
               "--output", str(raw), "--nonblocking"]
        done = run_quietly(cmd, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(TOOLS)},
                           timeout=seconds + 60, check=False)
        if done.returncode != 0:
            log(f"py-spy failed ({done.returncode}): {done.stdout[-500:]}")
            return None
    finally:
        load.join()
    return summarise(name, raw)


def _frame(text: str) -> str:
    """`func (path/to/module.py:123)` -> `func (module.py)`; lines vary, names do not."""
    name, _, where = text.partition(" (")
    filename = where.rstrip(")").rsplit(":", 1)[0]
    short = "/".join(Path(filename).parts[-2:]) if filename else ""
    for marker in ("site-packages/", "lib/python3.11/"):
        short = short.split(marker)[-1]
    return f"{name} ({short})" if short else name


def _in_request(name: str) -> bool:
    return name.endswith(("Worker.handle", ".wsgi_app")) or "handle_request" in name


def summarise(name: str, raw: Path, top: int = 30) -> Profile:
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [_frame(f) for f in stack.split(";") if not f.startswith("process ")]
        # Only samples inside a request (parse, app, write): an idle worker waits in its loop.
        if not any(_in_request(f.split(" (")[0]) for f in frames):
            continue
        n = int(count_text)
        total += n
        for f in set(frames):
            inclusive[f] += n
        leaf[frames[-1]] += n

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        """The frames every sample shares (gunicorn's main loop) are left out."""
        if not total:
            return []
        kept = [(f, c / total) for f, c in counter.most_common() if c / total < 0.99]
        return kept[:top]

    return Profile(name, total, shares(inclusive), shares(leaf), raw)
