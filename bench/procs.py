"""Child processes in their own process groups, so a failed run still stops every one of them."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(cmd: list[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 900) -> str:
    """Run a setup command to completion; its output is shown only when it fails."""
    proc = subprocess.Popen(cmd, env=dict(env) if env else None, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        stop_group(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-4000:]}")
    return out


def stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group, SIGKILL it after `grace` seconds."""
    if proc.poll() is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # strays left by a finished leader
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class Server:
    """A long-running target (gunicorn or node) with its log file under bench/out/logs."""

    def __init__(self, name: str, cmd: list[str], env: Mapping[str, str], cwd: Path,
                 port: int, ready_path: str, log_dir: Path) -> None:
        self.name, self.cmd, self.env, self.cwd = name, cmd, dict(env), cwd
        self.port, self.ready_path = port, ready_path
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.log_path.open("w")
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=self.cwd, stdout=handle,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        handle.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.base_url + self.ready_path, timeout=2) as resp:  # noqa: S310 (http://127.0.0.1 only)
                    if resp.status == 200:
                        log(f"{self.name} ready on :{self.port}")
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        """Direct children of the leader (gunicorn or cluster workers)."""
        if self.proc is None:
            return []
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)
            self.proc = None
