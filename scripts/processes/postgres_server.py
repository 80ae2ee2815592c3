"""A throwaway PostgreSQL cluster that a test may stop, kill, freeze and restart."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Self

from scripts.processes.base import (
    ManagedServer,
    children,
    free_port,
    package_dir,
    pid_alive,
    read_int,
    tail,
    wait_until,
)

START_TIMEOUT = 10.0


def pgserver_bin_dir() -> Path:
    """The PostgreSQL binaries the `pgserver` package ships (`pginstall/bin` in its package
    directory: the layout of pgserver 0.1.4, also what its private `_commands` module
    uses); fails naming the layout if an upgrade moves them."""
    pkg = package_dir("pgserver")
    if pkg is None or not (pkg / "pginstall" / "bin" / "pg_ctl").is_file():
        raise RuntimeError("pgserver's PostgreSQL binaries are not in <pgserver>/pginstall/bin; "
                           "scripts/processes/postgres_server.py needs their new place")
    return pkg / "pginstall" / "bin"


def postgres_bin_dir() -> Path:
    """Return the newest system /usr/lib/postgresql/*/bin, else pgserver's bundled bin dir."""

    def version(path: str) -> tuple[int, ...]:
        parts = Path(path).parent.name.split(".")
        return tuple(int(p) for p in parts if p.isdigit())

    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    try:
        return pgserver_bin_dir()
    except RuntimeError:
        raise RuntimeError("no PostgreSQL initdb/pg_ctl found (system or pgserver)") from None


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


class PrivatePostgres(ManagedServer):
    """A throwaway PostgreSQL cluster (initdb + pg_ctl) on a private 127.0.0.1 port.

    Its files live in a directory of its own under the system temp dir, which close()
    removes. Not in pytest's tmp_path: as root the server runs as an unprivileged user, and
    pytest takes group and other permissions off its per-user temp tree whenever any pytest
    session starts on the machine, which would lock that user out of its cluster mid-test.
    """

    def __init__(self) -> None:
        """Make the cluster's directory; call start() to run it."""
        self.dir = Path(tempfile.mkdtemp(prefix="private-pg-")).resolve()
        self.datadir = self.dir / "pgdata"
        self.logfile = self.dir / "postgres.log"
        self.port: int | None = None
        self.bindir = postgres_bin_dir()
        self.user = _server_user()
        self.sockdir = self.dir / "sock"  # short: Unix socket paths are limited to ~107 bytes

    @property
    def url(self) -> str:
        """Return postgresql://postgres@127.0.0.1:<port>/postgres."""
        if self.port is None:
            raise RuntimeError("PrivatePostgres has not been started")
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def pid(self) -> int | None:
        """Return the postmaster pid while the server is running."""
        pid = read_int(self.datadir / "postmaster.pid")
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
            output = f"{result.stdout}\n{result.stderr}\n{tail(self.logfile)}"
            raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{output}")
        return result

    def _prepare(self) -> None:
        """Create directories, fix ownership and run initdb once."""
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
        return [] if pid is None else [pid, *children(pid)]

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
        wait_until(lambda: self.pid is None, START_TIMEOUT)

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
        wait_until(lambda: self.pid is None, START_TIMEOUT)

    def restart(self) -> Self:
        """Stop and start again on the same port, keeping the data."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
