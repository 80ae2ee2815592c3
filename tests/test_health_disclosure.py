"""Health answers say what is down in the contract's words; host names, addresses, ports,
database and user names and driver messages go to the log only (one warning line each)."""
from __future__ import annotations

import logging
from typing import Any

import pytest

from marketplace.migrate import upgrade
from scripts.processes import PrivatePostgres, free_port

HEALTH = "/api/v1/health"
# Words of psycopg2's and redis-py's messages for these failures.
DRIVER_TEXT = ["refused", "Connection", "connecting", "Error", "FATAL", "does not exist",
               "timed out", "server", "socket", "Errno", "circuit", "localhost", "127.0.0.1"]


def assert_discreet(response: Any, status: int, error: str, *secrets: str) -> None:
    body = response.get_json()
    assert response.status_code == status, body
    assert body["error"] == error and body["code"] == "service_unavailable"
    assert set(body) == {"success", "status", "error", "code", "timestamp"}
    text = str({k: v for k, v in body.items() if k != "timestamp"})
    for secret in [*secrets, *DRIVER_TEXT]:
        assert secret not in text, (secret, body)


def warnings(caplog: Any) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "marketplace.health.routes" and r.levelno == logging.WARNING]


def test_redis_down_names_no_address(make_app: Any, db: Any, private_redis: Any,
                                     caplog: Any) -> None:
    caplog.set_level(logging.WARNING)
    port = free_port()  # nothing listens there
    unreachable = make_app(REDIS_URL=f"redis://127.0.0.1:{port}/3").test_client()
    assert_discreet(unreachable.get(f"{HEALTH}/redis"), 503, "Redis is unavailable.",
                    str(port))
    assert len(warnings(caplog)) == 1 and "refused" in warnings(caplog)[0]  # for the log
    ready = unreachable.get(f"{HEALTH}/ready")
    assert ready.status_code == 200 and ready.get_json()["status"] == "degraded"

    stopped = make_app(REDIS_URL=private_redis.url).test_client()
    assert stopped.get(f"{HEALTH}/redis").status_code == 200
    private_redis.stop()
    caplog.clear()
    assert_discreet(stopped.get(f"{HEALTH}/redis"), 503, "Redis is unavailable.",
                    str(private_redis.port))
    assert len(warnings(caplog)) == 1


@pytest.mark.parametrize("reason", ["no such database", "nothing listening"])
def test_database_down_names_no_host_port_or_database(make_app: Any, redis: Any,
                                                      caplog: Any, reason: str) -> None:
    caplog.set_level(logging.WARNING)
    user, port, name = ("root", 5432, "mp_no_such_database_here") \
        if reason == "no such database" else ("health_user", free_port(), "marketplace_db")
    app = make_app(DATABASE_URL=f"postgresql://{user}@127.0.0.1:{port}/{name}")
    client = app.test_client()
    for path in ("db", "ready"):
        caplog.clear()
        status = "disconnected" if path == "db" else "unavailable"
        response = client.get(f"{HEALTH}/{path}")
        assert_discreet(response, 503, "Database is unavailable.", str(port), name, user,
                        "postgresql")
        assert response.get_json()["status"] == status
        assert len(warnings(caplog)) == 1, warnings(caplog)


def test_stopped_postgres_names_nothing(make_app: Any, redis: Any, tmp_path: Any,
                                        caplog: Any) -> None:
    with PrivatePostgres() as server:
        upgrade(server.url)
        client = make_app(DATABASE_URL=server.url).test_client()
        assert client.get(f"{HEALTH}/db").status_code == 200
        server.stop()
        caplog.set_level(logging.WARNING)
        for path in ("db", "ready"):
            assert_discreet(client.get(f"{HEALTH}/{path}"), 503, "Database is unavailable.",
                            str(server.port), "postgres")
        assert len(warnings(caplog)) == 2
