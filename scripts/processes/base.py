"""Ports, pids, process groups and waiting: the plumbing every server helper stands on."""
from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

ROOT = Path(__file__).resolve().parents[2]  # the repository
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of utime/stime in /proc/<pid>/stat


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on host right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def pid_alive(pid: int | None) -> bool:
    """Return True if a process with this pid exists and is not a zombie."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(pid)
    return fields is None or fields[0] != "Z"


def read_int(path: Path) -> int | None:
    """The integer on the first line of a file (a pidfile, a portfile), or None."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll `check` until it is true (True) or `timeout` seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait until pid has exited; return True if it did."""
    return wait_until(lambda: not pid_alive(pid), timeout)


def children(pid: int) -> list[int]:
    """The direct children of pid (gunicorn or node cluster workers, PostgreSQL backends)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat_fields(int(stat_file.parent.name))
        if fields is not None and int(fields[1]) == pid:
            found.append(int(stat_file.parent.name))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its direct children, reaped ones included.

    A worker that exits and is reaped moves its time into the parent's cutime/cstime, so
    the sum stays whole when a server replaces a worker between two readings.
    """
    total = 0
    fields = _stat_fields(pid)
    if fields is not None:  # utime, stime, cutime, cstime are fields 14-17 of stat
        total += sum(int(value) for value in fields[11:15])
    for child in children(pid):
        child_fields = _stat_fields(child)
        if child_fields is not None:
            total += int(child_fields[11]) + int(child_fields[12])
    return total / CLOCK_TICKS


def start_group(cmd: list[str], **popen: object) -> subprocess.Popen:
    """Start cmd as the leader of a new session (process group) so stop_group reaches all
    it starts: gunicorn's workers, node's cluster, npm's scripts."""
    return subprocess.Popen(cmd, start_new_session=True, **popen)  # type: ignore[call-overload]


def stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group, SIGKILL it after `grace` seconds; strays of a leader that
    already exited are killed too."""
    if proc.poll() is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_quietly(cmd: list[str], *, env: Mapping[str, str] | None = None,
                cwd: Path | None = None, timeout: float = 900,
                check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command to completion in its own process group; stdout and stderr together.

    With `check`, a non-zero exit raises RuntimeError carrying the end of the output, so the
    output is shown only when it matters.
    """
    proc = start_group(cmd, env=dict(env) if env is not None else None, cwd=cwd, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        stop_group(proc)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-4000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, None)


def venv_tool(name: str) -> str:
    """The console script installed next to sys.executable (flask, gunicorn), else PATH's."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


def package_dir(name: str) -> Path | None:
    """The directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def inherited_environ() -> dict[str, str]:
    """This process's environment without GUNICORN_* and FLASK_* variables, so a shell's
    settings cannot change how a started server runs."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN", "FLASK"))}


def tail(path: Path, size: int = 3000) -> str:
    """The end of a log file, or an empty string."""
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


class ManagedServer:
    """A server used as a context manager: entering starts it, leaving always closes it."""

    def start(self) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
