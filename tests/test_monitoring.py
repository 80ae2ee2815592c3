"""redis-stats (admin), redis-check (exit codes), alerts logged once per crossing."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import Any

import pytest
import redis as redis_lib

from marketplace.health import monitoring
from scripts.processes import ROOT
from tests.plugins.auth import AuthActions

STATS = "/api/v1/health/redis-stats"
PREFIXES = ["cache:", "rate-limit:", "session:", "user:", "jwt:revoked:", "active:", "stats:",
            "other"]


@pytest.fixture(autouse=True)
def forget_crossings() -> None:
    """The once-per-crossing memory is per process; every test starts with none crossed."""
    monitoring.note_alerts([])


def test_redis_stats_is_for_admins_only(client: Any, auth: Any) -> None:
    anonymous = client.get(STATS)
    assert anonymous.status_code == 401 and anonymous.json["code"] == "unauthorized"
    for role in ("client", "agent"):
        response = client.get(STATS, headers=auth.headers(role))
        assert response.status_code == 403 and response.json["code"] == "forbidden"
    assert client.get(STATS, headers=auth.headers("admin")).status_code == 200


def test_redis_stats_are_typed_figures_parsed_from_info(
        make_app: Any, db: Any, private_redis: Any) -> None:
    app = make_app(REDIS_URL=private_redis.url, REDIS_MAX_CONNECTIONS=6, WEB_CONCURRENCY=2)
    client = app.test_client()
    headers = AuthActions(app).headers("admin")
    body = client.get(STATS, headers=headers).json
    assert body["success"] is True
    memory = body["memory"]
    assert isinstance(memory["used_bytes"], int) and memory["used_bytes"] > 0
    assert memory["peak_bytes"] >= memory["used_bytes"] or memory["peak_bytes"] > 0
    assert memory["maxmemory_bytes"] is None  # the private server has no limit
    assert memory["policy"] == "noeviction"
    assert isinstance(memory["fragmentation_ratio"], float)
    clients = body["clients"]
    assert clients["connected"] >= 1 and clients["service"] >= 1
    assert clients["budget_per_process"] == 3 and clients["budget_per_instance"] == 6
    keys = body["keys"]
    assert keys["exact"] is True and keys["sampled"] == 0
    assert list(keys["by_prefix"]) == PREFIXES
    assert sum(keys["by_prefix"].values()) == keys["total"]
    assert all(isinstance(body[name], int) for name in
               ("ops_per_sec", "evicted_keys", "expired_keys", "uptime_seconds"))
    assert body["hit_ratio"] is None or 0 <= body["hit_ratio"] <= 1
    assert set(body["counters"]) == {"cache_hits", "cache_misses", "cache_not_stored",
                                     "rate_limited", "redis_errors"}
    assert body["alerts"] == []
    assert "\r\n" not in str(body)  # never the raw INFO text


def test_hit_ratio_is_null_without_reads_then_hits_over_lookups(
        make_app: Any, db: Any, private_redis: Any) -> None:
    app = make_app(REDIS_URL=private_redis.url)
    with app.app_context():
        assert monitoring.collect()["hit_ratio"] is None
        server = redis_lib.Redis.from_url(private_redis.url)
        server.set("filler:x", 1, ex=60)
        server.get("filler:x")
        server.get("filler:x")
        server.get("filler:missing")
        ratio = monitoring.collect()["hit_ratio"]
        server.close()
    # 2 hits; 2 misses: filler:missing and the first collect's read of the (absent) counters
    assert ratio == 0.5


def test_key_counts_are_exact_when_small_and_per_prefix(
        client: Any, redis: Any, auth: Any) -> None:
    for i in range(4):
        redis.set(f"session:{i}", 1, ex=60)
    redis.set("user:abc", 1, ex=60)
    redis.set("somewhere-else", 1, ex=60)
    body = client.get(STATS, headers=auth.headers("admin")).json
    by_prefix = body["keys"]["by_prefix"]
    assert body["keys"]["exact"] is True
    # user:abc, and the admin's own record, cached when its bearer token was checked
    assert by_prefix["session:"] == 4 and by_prefix["user:"] == 2 and by_prefix["other"] >= 1
    assert body["keys"]["total"] == redis.dbsize()


def test_key_counts_are_a_scaled_sample_when_the_db_is_large(
        app: Any, redis: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(monitoring, "EXACT_COUNT_LIMIT", 200)
    monkeypatch.setattr(monitoring, "SAMPLE_SIZE", 300)
    monkeypatch.setattr(monitoring, "SCAN_COUNT", 100)
    pipe = redis.pipeline(transaction=False)
    for i in range(3000):
        pipe.set(f"{'session' if i % 2 else 'cache'}:{i}", 1, ex=60)
    pipe.execute()
    with app.app_context():
        keys = monitoring.count_keys(app.extensions["redis"].client, int(redis.dbsize()))
    assert keys["exact"] is False and 300 <= keys["sampled"] < 3000
    by_prefix = keys["by_prefix"]
    assert abs(sum(by_prefix.values()) - 3000) <= 5  # rounding of the scaled counts
    assert 1000 <= by_prefix["session:"] <= 2000 and 1000 <= by_prefix["cache:"] <= 2000


def test_alert_keys_is_named_and_redis_check_exits_non_zero_then_zero_with_defaults(
        make_app: Any, db: Any, private_redis: Any) -> None:
    strict = make_app(REDIS_URL=private_redis.url, ALERT_KEYS=5)
    client = strict.test_client()
    headers = AuthActions(strict).headers("admin")
    server = redis_lib.Redis.from_url(private_redis.url)
    for i in range(6):  # a few requests that leave keys behind (the user cache, limits...)
        client.get("/api/v1/auth/me", headers=AuthActions(strict).headers())
        server.set(f"filler:{i}", 1, ex=60)
    body = client.get(STATS, headers=headers).json
    total = server.dbsize()
    assert {"metric": "keys", "value": total, "threshold": 5} in body["alerts"]
    assert [a["metric"] for a in body["alerts"]] == ["keys"]

    result = strict.test_cli_runner().invoke(args=["redis-check"])
    assert result.exit_code == 1, result.output
    assert f"ALERT        keys is {total}, above the threshold of 5" in result.output

    defaults = make_app(REDIS_URL=private_redis.url)
    result = defaults.test_cli_runner().invoke(args=["redis-check"])
    assert result.exit_code == 0, result.output
    assert "alerts       none" in result.output
    assert f"keys         {total} (exact)" in result.output
    server.close()


def test_memory_and_connection_alerts(make_app: Any, db: Any, private_redis: Any) -> None:
    app = make_app(REDIS_URL=private_redis.url, ALERT_MEMORY_BYTES=1000, ALERT_CONNECTIONS=0)
    with app.app_context():
        alerts = monitoring.collect()["alerts"]
    assert [a["metric"] for a in alerts] == ["memory", "connections"]
    assert alerts[0]["threshold"] == 1000 and alerts[0]["value"] > 1000
    assert alerts[1]["threshold"] == 0 and alerts[1]["value"] >= 1


def test_redis_check_exits_2_when_redis_is_unreachable(
        make_app: Any, db: Any, private_redis: Any) -> None:
    app = make_app(REDIS_URL=private_redis.url)
    private_redis.stop()
    result = app.test_cli_runner().invoke(args=["redis-check"])
    assert result.exit_code == 2
    assert "redis unreachable" in result.output
    private_redis.start()


def test_redis_stats_is_503_while_redis_is_down(
        make_app: Any, db: Any, private_redis: Any) -> None:
    app = make_app(REDIS_URL=private_redis.url)
    client = app.test_client()
    headers = AuthActions(app).headers("admin")
    private_redis.stop()
    response = client.get(STATS, headers=headers)
    assert response.status_code == 503
    assert response.json["code"] == "service_unavailable"
    private_redis.start()


def _warnings(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == monitoring.log.name and r.levelno == logging.WARNING]


def test_a_crossing_is_logged_once_and_again_only_after_it_cleared(
        make_app: Any, db: Any, redis: Any, caplog: Any) -> None:
    app = make_app(ALERT_KEYS=3, ALERT_MEMORY_BYTES=10**12, ALERT_CONNECTIONS=10**6)
    client = app.test_client()
    headers = AuthActions(app).headers("admin")
    redis.flushdb()
    caplog.set_level(logging.INFO, logger=monitoring.log.name)
    for i in range(5):
        redis.set(f"filler:{i}", 1, ex=60)
    for _ in range(3):
        assert client.get(STATS, headers=headers).status_code == 200
    assert len(_warnings(caplog)) == 1
    assert "keys is" in _warnings(caplog)[0] and "threshold of 3" in _warnings(caplog)[0]

    redis.flushdb()
    with app.app_context():
        assert monitoring.collect()["alerts"] == []
    assert any("cleared" in r.getMessage() for r in caplog.records)
    for i in range(5):
        redis.set(f"filler:{i}", 1, ex=60)
    with app.app_context():
        monitoring.collect()
        monitoring.collect()
    assert len(_warnings(caplog)) == 2


def test_the_service_notices_a_crossing_without_anyone_asking(
        make_app: Any, db: Any, redis: Any, caplog: Any) -> None:
    # A fresh app (a freshly started worker) runs its periodic check at its first request.
    app = make_app(ALERT_CHECK_INTERVAL=3600, ALERT_KEYS=2, ALERT_MEMORY_BYTES=10**12,
                   ALERT_CONNECTIONS=10**6)
    client = app.test_client()
    caplog.set_level(logging.INFO, logger=monitoring.log.name)
    for i in range(3):
        redis.set(f"filler:{i}", 1, ex=60)
    for _ in range(5):
        assert client.get("/api/v1/health").status_code == 200
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "keys is 3" in warnings[0]


def _flask(args: list[str], redis_url: str, database_url: str) -> subprocess.CompletedProcess:
    """The real `flask --app marketplace ...` entry point, configured as on Render."""
    env = {**os.environ, "APP_ENV": "production", "REDIS_URL": redis_url,
           "DATABASE_URL": database_url, "SESSION_SECRET": "s" * 40, "JWT_SECRET": "j" * 40,
           "WEB_CONCURRENCY": "1", "REDIS_MAX_CONNECTIONS": "1"}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "marketplace", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                          check=False)


def test_redis_check_runs_from_the_shell(
        redis: Any, redis_url: str, database_url: str) -> None:
    redis.set("cache:keep", 1, ex=60)
    check = _flask(["redis-check"], redis_url, database_url)
    assert check.returncode in (0, 1), check.stderr  # the shared server may be busy
    assert "keys         1 (exact)" in check.stdout
    assert "cache:       1" in check.stdout
