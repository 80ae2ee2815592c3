"""The admin of ADMIN_EMAIL / ADMIN_PASSWORD: created or updated by every start, unchanged by a
restart with the same values, safe when instances start together, its password never shown."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from marketplace.auth import users
from marketplace.auth.commands import bootstrap_admin
from scripts.processes import ROOT, free_port, http
from tests.helpers import service_env

BIN = Path(sys.executable).parent  # the virtualenv's console scripts (flask, gunicorn)

EMAIL = "boss@example.com"
PASSWORD = "first-secret-pass"
NEW_PASSWORD = "second-secret-pass"


def admin_row(db: Any, email: str = EMAIL) -> dict[str, Any] | None:
    with db.cursor() as cur:
        cur.execute("SELECT id, name, role, password_hash, updated_at FROM users "
                    "WHERE email = %s", (email,))
        row = cur.fetchone()
    if row is None:
        return None
    return dict(zip(("id", "name", "role", "password_hash", "updated_at"), row, strict=True))


def bootstrap(make_app: Any, **admin: str) -> Any:
    """`flask --app marketplace bootstrap-admin` on an app with these ADMIN_* settings."""
    app = make_app(**admin)
    result = app.test_cli_runner().invoke(args=["bootstrap-admin"])
    if admin.get("ADMIN_PASSWORD"):
        assert admin["ADMIN_PASSWORD"] not in result.output  # never printed
    return result


def authenticates(make_app: Any, email: str, password: str) -> bool:
    app = make_app()
    with app.app_context():
        return users.authenticate(email, password) is not None


def test_nothing_happens_when_unset(make_app: Any, db: Any, redis: Any) -> None:
    result = bootstrap(make_app)
    assert result.exit_code == 0, result.output
    assert "not set, nothing to do" in result.output
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM users")
        assert cur.fetchone()[0] == 0


def test_created_then_unchanged_then_updated(make_app: Any, db: Any, redis: Any) -> None:
    first = bootstrap(make_app, ADMIN_EMAIL="Boss@Example.com", ADMIN_PASSWORD=PASSWORD)
    assert first.exit_code == 0, first.output
    assert first.output.strip() == f"admin {EMAIL} created"
    created = admin_row(db)
    assert created["role"] == "admin" and created["name"] == "Admin"
    assert authenticates(make_app, EMAIL, PASSWORD)

    # A restart (free instances restart after every spin-down): not a single write.
    again = bootstrap(make_app, ADMIN_EMAIL=EMAIL, ADMIN_PASSWORD=PASSWORD)
    assert again.output.strip() == f"admin {EMAIL} unchanged"
    assert admin_row(db) == created

    changed = bootstrap(make_app, ADMIN_EMAIL=EMAIL, ADMIN_PASSWORD=NEW_PASSWORD)
    assert changed.output.strip() == f"admin {EMAIL} updated"
    assert admin_row(db)["updated_at"] > created["updated_at"]
    assert authenticates(make_app, EMAIL, NEW_PASSWORD)
    assert not authenticates(make_app, EMAIL, PASSWORD)


def test_a_new_name_alone_keeps_the_password_hash(make_app: Any, db: Any, redis: Any) -> None:
    bootstrap(make_app, ADMIN_EMAIL=EMAIL, ADMIN_PASSWORD=PASSWORD)
    before = admin_row(db)
    renamed = bootstrap(make_app, ADMIN_EMAIL=EMAIL, ADMIN_PASSWORD=PASSWORD,
                        ADMIN_NAME="The Boss")
    assert renamed.output.strip() == f"admin {EMAIL} updated"
    after = admin_row(db)
    assert after["name"] == "The Boss" and after["password_hash"] == before["password_hash"]
    # Without ADMIN_NAME the name the account has is kept.
    kept = bootstrap(make_app, ADMIN_EMAIL=EMAIL, ADMIN_PASSWORD=PASSWORD)
    assert kept.output.strip() == f"admin {EMAIL} unchanged"
    assert admin_row(db) == after


def test_an_existing_client_is_promoted_and_keeps_its_name(make_app: Any, db: Any,
                                                          redis: Any) -> None:
    app = make_app()
    with app.app_context():
        users.create_user(EMAIL, "client-password-1", "Carla", "client")
    result = bootstrap(make_app, ADMIN_EMAIL=EMAIL, ADMIN_PASSWORD=PASSWORD)
    assert result.output.strip() == f"admin {EMAIL} updated"
    row = admin_row(db)
    assert row["role"] == "admin" and row["name"] == "Carla"
    assert authenticates(make_app, EMAIL, PASSWORD)
    assert not authenticates(make_app, EMAIL, "client-password-1")


def test_an_admin_with_the_same_password_but_another_role_is_promoted(
        make_app: Any, db: Any, redis: Any) -> None:
    app = make_app()
    with app.app_context():
        users.create_user(EMAIL, PASSWORD, "Carla", "agent")
    before = admin_row(db)
    result = bootstrap(make_app, ADMIN_EMAIL=EMAIL, ADMIN_PASSWORD=PASSWORD)
    assert result.output.strip() == f"admin {EMAIL} updated"
    after = admin_row(db)
    assert after["role"] == "admin" and after["password_hash"] == before["password_hash"]


@pytest.mark.parametrize("admin", [{"ADMIN_EMAIL": EMAIL}, {"ADMIN_PASSWORD": PASSWORD}])
def test_half_a_configuration_is_skipped_with_a_warning(make_app: Any, db: Any, redis: Any,
                                                        admin: dict[str, str]) -> None:
    result = bootstrap(make_app, **admin)
    assert result.exit_code == 0
    assert "admin bootstrap skipped" in result.output and "is not set" in result.output
    assert admin_row(db) is None


def test_invalid_values_stop_the_start_without_showing_them(make_app: Any, db: Any,
                                                            redis: Any) -> None:
    result = bootstrap(make_app, ADMIN_EMAIL="not-an-address", ADMIN_PASSWORD="short-p")
    assert result.exit_code == 1
    assert "ADMIN_EMAIL must be a valid e-mail address" in result.output
    assert "ADMIN_PASSWORD must be 8 to 128 characters" in result.output
    assert "short-p" not in result.output
    assert admin_row(db, "not-an-address") is None


def test_concurrent_bootstraps_create_one_admin(make_app: Any, db: Any, redis: Any) -> None:
    app = make_app(ADMIN_EMAIL=EMAIL, ADMIN_PASSWORD=PASSWORD)
    start = threading.Barrier(5)
    outcomes: list[str] = []

    def run() -> None:
        with app.app_context():
            start.wait()
            try:
                outcomes.append(bootstrap_admin())
            except Exception as exc:  # reported by the assertion below
                outcomes.append(repr(exc))

    threads = [threading.Thread(target=run) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == [f"admin {EMAIL} created"] + [f"admin {EMAIL} unchanged"] * 4
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM users WHERE role = 'admin'")
        assert cur.fetchone()[0] == 1


# ---- acceptance: the real start command (bin/start), as Render and the Procfile run it


@pytest.fixture
def fresh_database(database_url: str) -> Any:
    """An empty database, as on a first deploy: the starts also race on the migrations."""
    name = f"marketplace_start_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(database_url)
    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(parts._replace(path=f"/{name}"))
    conn = psycopg2.connect(url)
    conn.autocommit = True
    yield url, conn
    conn.close()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


class Start:
    """`bin/start --bind 127.0.0.1:<port>` in its own process group, output in a log file."""

    def __init__(self, env: dict[str, str], log_dir: Path, name: str) -> None:
        self.port = free_port()
        self.log_path = log_dir / f"{name}.log"
        self.env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
                    "WEB_CONCURRENCY": "1", "PYTHONUNBUFFERED": "1", **env}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(ROOT / "bin" / "start"), "--bind", f"127.0.0.1:{self.port}"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_serving(self, timeout: float = 60.0) -> Start:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"start exited {self.process.returncode}:\n{self.log()}")
            try:
                if http("GET", self.url + "/api/v1/health", timeout=1).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"not serving after {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)


def login(service: Start, password: str) -> int:
    return http("POST", f"{service.url}/api/v1/auth/login",
                body={"email": EMAIL, "password": password}).status


def tokens_of(service: Start, password: str) -> dict[str, str]:
    answer = http("POST", f"{service.url}/api/v1/auth/login",
                  body={"email": EMAIL, "password": password})
    assert answer.status == 200
    return answer.json()


def start_all(env: dict[str, str], tmp_path: Path, names: list[str]) -> list[Start]:
    starts = [Start(env, tmp_path, name) for name in names]
    try:
        return [start.wait_until_serving() for start in starts]
    except BaseException:
        for start in starts:
            start.stop()
        raise


def test_the_start_command_bootstraps_the_admin_once_and_only_when_it_changes(
        fresh_database: Any, redis: Any, redis_url: str, tmp_path: Path) -> None:
    url, conn = fresh_database
    base = service_env(url, redis_url, LOG_LEVEL="INFO",
                       AUTH_RATE_LIMIT="100 per minute", LOGIN_FAILURE_LIMIT="100 per minute")

    # Two instances start at the same moment on an empty database.
    both = start_all({**base, "ADMIN_EMAIL": EMAIL, "ADMIN_PASSWORD": PASSWORD}, tmp_path,
                     ["a", "b"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT role FROM users WHERE email = %s", (EMAIL,))
            assert cur.fetchall() == [("admin",)]
        assert login(both[0], PASSWORD) == 200
        earlier = tokens_of(both[0], PASSWORD)
    finally:
        for start in both:
            start.stop()
    logs = [start.log() for start in both]
    assert sorted("database is up to date" in log for log in logs) == [False, True]
    assert sorted(f"admin {EMAIL} created" in log for log in logs) == [False, True]
    assert sorted(f"admin {EMAIL} unchanged" in log for log in logs) == [False, True]

    # Started again with another password: the new one works, the old one does not.
    [changed] = start_all({**base, "ADMIN_EMAIL": EMAIL, "ADMIN_PASSWORD": NEW_PASSWORD},
                          tmp_path, ["c"])
    try:
        assert login(changed, NEW_PASSWORD) == 200
        assert login(changed, PASSWORD) == 401
        # ...and the admin's tokens issued before the new password are ended.
        for kind, path in (("access_token", "/api/v1/auth/me"),
                           ("refresh_token", "/api/v1/auth/refresh")):
            method = "GET" if kind == "access_token" else "POST"
            ended = http(method, changed.url + path,
                         headers={"Authorization": f"Bearer {earlier[kind]}"})
            assert ended.status == 401, (kind, ended.status)
    finally:
        changed.stop()
    assert f"admin {EMAIL} updated" in changed.log()
    updated_at = admin_row(conn)["updated_at"]

    # Started again with the same password (a spin-down and a wake-up): the row is untouched.
    [same] = start_all({**base, "ADMIN_EMAIL": EMAIL, "ADMIN_PASSWORD": NEW_PASSWORD},
                       tmp_path, ["d"])
    try:
        assert login(same, NEW_PASSWORD) == 200
    finally:
        same.stop()
    assert f"admin {EMAIL} unchanged" in same.log()
    assert admin_row(conn)["updated_at"] == updated_at

    for start in [*both, changed, same]:
        log = start.log()
        assert PASSWORD not in log and NEW_PASSWORD not in log
        assert "Traceback" not in log, log
