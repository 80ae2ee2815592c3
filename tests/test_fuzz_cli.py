"""The schemathesis CLI against a running instance, as an outside client would run it.

`st run <url>/api/v1/openapi.json --checks all`: positive and negative data, every phase
(the stateful one follows the document's links: a created project's id to its detail, change,
deletion, proposals; a created proposal's id to its acceptance; a registration's
credentials to a login), one worker and a fixed seed, so a run is the same run every time and
takes about a quarter of a minute.

The service is gunicorn with two workers, the testing configuration (cheap password hashes)
and rate limits out of the way. A client's bearer token goes in `-H "Authorization: Bearer
..."` for every request; a config file gives the operations a client cannot meaningfully
call the token of their own role: an agent's for proposing, an admin's for redis-stats, the
client's refresh token for /auth/refresh, and another client's access token for logout
(which revokes it: the client's own token must stay valid for the rest of the run). The
same file widens `positive_data_acceptance` for the listing by 400, held to its exact
reason by tests/schemathesis_checks.py (loaded with SCHEMATHESIS_HOOKS).
"""
from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.processes import GunicornService, http
from scripts.processes.base import ROOT
from tests.helpers import API, NO_RATE_LIMITS, service_env
from tests.plugins.auth import DEFAULT_PASSWORD, AuthActions
from tests.schemathesis_checks import LISTING, LISTING_ACCEPTS

SEED = 20240611
MAX_EXAMPLES = 30
TIME_LIMIT = 110  # seconds; a run takes about 15 on the development machine
ST = str(Path(sys.executable).with_name("st"))


@pytest.fixture
def service(database_url: str, redis_url: str, db: Any, redis: Any,
            tmp_path: Path) -> Iterator[GunicornService]:
    env = service_env(database_url, redis_url, **NO_RATE_LIMITS, APP_ENV="testing",
                      # The suite's Redis is shared with other runs: no memory share to guard,
                      # and a slow reply must not open the breaker (outages are other tests').
                      REDIS_MEMORY_LIMIT=str(1 << 40), REDIS_SOCKET_TIMEOUT="2.0",
                      REDIS_CONNECT_TIMEOUT="2.0")
    with GunicornService(env, tmp_path / "logs", workers=2) as running:
        yield running
    assert "Traceback" not in running.log(size=1_000_000), running.log()


def register(service: GunicornService, role: str) -> dict[str, Any]:
    """An account made through the API, as an outside client makes one."""
    response = http("POST", f"{service.url}{API}/auth/register", body={
        "email": f"st-{role}-{os.urandom(4).hex()}@example.com", "password": DEFAULT_PASSWORD,
        "name": f"Fuzzing {role}", "role": role})
    assert response.status == 201, response.body
    return response.json()


def config_file(path: Path, tokens: dict[str, str]) -> Path:
    """The run's schemathesis.toml: tokens per operation, the listing's statuses, no cache."""
    headers = {"createProposal": tokens["agent"], "redisStats": tokens["admin"],
               "refresh": tokens["refresh"], "logout": tokens["logout"]}
    lines = ["[cache]", "enabled = false", ""]
    for operation_id, token in headers.items():
        lines += ["[[operations]]", f'include-operation-id = "{operation_id}"',
                  f'headers = {{ Authorization = "Bearer {token}" }}', ""]
    statuses = ", ".join(json.dumps(status) for status in LISTING_ACCEPTS)
    lines += ["[[operations]]", f'include-operation-id = "{LISTING}"',
              f"checks.positive_data_acceptance.expected-statuses = [{statuses}]", ""]
    path.write_text("\n".join(lines))
    return path


def command(service: GunicornService, config: Path, token: str, har: Path) -> list[str]:
    return [ST, "--config-file", str(config), "run", f"{service.url}{API}/openapi.json",
            "--checks", "all", "--mode", "all",
            "--phases", "examples,coverage,fuzzing,stateful",
            "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1",
            "--generation-database", "none", "--request-timeout", "10",
            "-H", f"Authorization: Bearer {token}",
            "--report", "har", "--report-har-path", str(har), "--no-color"]


def answered(har: Path) -> collections.Counter[tuple[str, str, int]]:
    """(method, path template, status) of every request the run made."""
    counts: collections.Counter[tuple[str, str, int]] = collections.Counter()
    for entry in json.loads(har.read_text())["log"]["entries"]:
        path = entry["request"]["url"].split("?")[0].partition(API)[2]
        path = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "{id}",
                      path)
        counts[entry["request"]["method"], path, entry["response"]["status"]] += 1
    return counts


def test_schemathesis_cli_finds_nothing(service: GunicornService, make_app: Any,
                                        tmp_path: Path) -> None:
    client, agent, spare = (register(service, role) for role in ("client", "agent", "client"))
    admin = AuthActions(make_app(JWT_SECRET=service.env["JWT_SECRET"],
                                 SESSION_SECRET=service.env["SESSION_SECRET"])).register("admin")
    config = config_file(tmp_path / "schemathesis.toml", {
        "agent": agent["access_token"], "admin": admin["access_token"],
        "refresh": client["refresh_token"], "logout": spare["access_token"]})
    har = tmp_path / "run.har"
    run = subprocess.run(
        command(service, config, client["access_token"], har), cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_checks",
             "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=TIME_LIMIT, check=False)
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    assert "No issues found" in run.stdout, run.stdout[-5_000:]

    # The run reached the deep routes with the right tokens, not only their 401s and 404s.
    counts = answered(har)
    reached = {(method, path) for method, path, status in counts if status < 300}
    assert {("POST", "/projects"), ("PATCH", "/projects/{id}"), ("DELETE", "/projects/{id}"),
            ("POST", "/projects/{id}/proposals"), ("GET", "/projects/{id}/proposals"),
            ("POST", "/projects/{id}/proposals/{id}/accept"), ("POST", "/auth/refresh"),
            ("POST", "/auth/login"), ("GET", "/health/redis-stats")} <= reached, counts
    assert not [key for key in counts if key[2] >= 500], counts
