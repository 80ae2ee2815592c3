"""Real service processes for tests: gunicorn running wsgi:app, and a tiny HTTP client."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class HTTPResult:
    """Status, headers and decoded JSON body of one request."""

    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None,
         timeout: float = 10.0) -> HTTPResult:
    """One request with the standard library; HTTP errors are results, not exceptions."""
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


class ServiceProcess:
    """`gunicorn wsgi:app -c gunicorn.conf.py` on a free port with the given environment."""

    def __init__(self, env: dict[str, str], log_dir: Path, *, workers: int = 2,
                 threads: int | None = None, name: str = "service") -> None:
        self.port = free_port()
        self.log_path = Path(log_dir) / f"{name}-{self.port}.log"
        self.env = {
            **os.environ,
            "WEB_CONCURRENCY": str(workers),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        if threads:
            self.env["GUNICORN_CMD_ARGS"] = f"--threads {threads}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServiceProcess:
        log = open(self.log_path, "wb")  # noqa: SIM115 (kept open for the process's life)
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "wsgi:app", "-c", "gunicorn.conf.py",
             "--bind", f"127.0.0.1:{self.port}"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited {self.process.returncode}:\n{self.log()}")
            try:
                if http("GET", self.url + "/api/v1/health", timeout=1).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"service did not start in {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def service_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a production-configured instance against the test servers."""
    return {
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SESSION_SECRET": "process-session-secret-" + "s" * 32,
        "JWT_SECRET": "process-jwt-secret-" + "j" * 32,
        "LOG_LEVEL": "WARNING",
        **extra,
    }
