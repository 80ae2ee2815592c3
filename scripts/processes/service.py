"""HTTP servers as child processes (gunicorn, node) and a tiny standard-library client."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from scripts.processes.base import (
    ROOT,
    ManagedServer,
    children,
    cpu_seconds,
    free_port,
    inherited_environ,
    start_group,
    stop_group,
    wait_until,
)


class HTTPResult:
    """Status, headers and body of one request."""

    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, *, body: Any = None, headers: Mapping[str, str] | None = None,
         timeout: float = 10.0) -> HTTPResult:
    """One request with the standard library; HTTP errors are results, not exceptions.

    A body that is not bytes is sent as JSON.
    """
    data = None
    all_headers = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return HTTPResult(response.status, response.headers, response.read())
    except urllib.error.HTTPError as err:
        return HTTPResult(err.code, err.headers, err.read())


def answers_200(url: str, timeout: float = 1.0) -> bool:
    """True if GET url answers 200 now; a refused or cut connection is False."""
    try:
        return http("GET", url, timeout=timeout).status == 200
    except OSError:
        return False


class ServerProcess(ManagedServer):
    """An HTTP server in its own process group on 127.0.0.1:port, its output in a log file;
    ready once `ready_path` answers 200."""

    def __init__(self, name: str, cmd: list[str], env: Mapping[str, str], *, port: int,
                 log_dir: Path, cwd: Path = ROOT, ready_path: str = "/") -> None:
        self.name, self.cmd, self.env, self.cwd = name, cmd, dict(env), cwd
        self.port, self.ready_path = port, ready_path
        self.log_path = Path(log_dir) / f"{name}-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Self:
        """Start the server and wait until it is ready; stopped again if it is not."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:  # the child keeps its own descriptor
            self.process = start_group(self.cmd, env=self.env, cwd=self.cwd, stdout=log,
                                       stderr=subprocess.STDOUT)
        process, ready = self.process, self.url + self.ready_path
        settled = wait_until(lambda: process.poll() is not None or answers_200(ready),
                             timeout, 0.1)
        if settled and process.poll() is None:
            return self
        code = process.poll()
        self.stop()  # what is left of the group, if anything
        why = f"exited {code}" if code is not None else f"not ready in {timeout:.0f} s"
        raise RuntimeError(f"{self.name} {why}:\n{self.log()}")

    def log(self, size: int = 5000) -> str:
        """The end of the server's output."""
        return self.log_path.read_text(errors="replace")[-size:]

    def worker_pids(self) -> list[int]:
        """The leader's children: gunicorn or node cluster workers."""
        return children(self.process.pid) if self.process is not None else []

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of the leader and its workers so far (reaped included)."""
        return cpu_seconds(self.process.pid) if self.process is not None else 0.0

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM the whole group (gunicorn's graceful_timeout is 10 s), SIGKILL after."""
        if self.process is not None:
            stop_group(self.process, grace)
            self.process = None

    def close(self) -> None:
        self.stop()


class GunicornService(ServerProcess):
    """`gunicorn <app> -c gunicorn.conf.py` on a free port of 127.0.0.1.

    `env` is laid over this process's environment (without GUNICORN_* and FLASK_*
    variables); `workers` sets WEB_CONCURRENCY unless `env` does, `threads` runs the
    gthread worker with that many threads.
    """

    def __init__(self, env: Mapping[str, str], log_dir: Path, *, app: str = "wsgi:app",
                 workers: int = 2, threads: int | None = None, name: str = "service",
                 ready_path: str = "/api/v1/health") -> None:
        port = free_port()
        full_env = {**inherited_environ(), "WEB_CONCURRENCY": str(workers),
                    "PYTHONUNBUFFERED": "1", **env}
        if threads:
            full_env["GUNICORN_WORKER_CLASS"] = "gthread"
            full_env["GUNICORN_CMD_ARGS"] = f"--threads {threads}"
        cmd = [sys.executable, "-m", "gunicorn", app, "-c", "gunicorn.conf.py",
               "--bind", f"127.0.0.1:{port}"]
        super().__init__(name, cmd, full_env, port=port, log_dir=log_dir, ready_path=ready_path)
