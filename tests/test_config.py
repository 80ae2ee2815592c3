"""Configuration: APP_ENV classes, production's required settings, postgres:// URLs."""
import os
import subprocess
import sys

import pytest

from config import ConfigError, ProductionConfig, load_config, normalise_database_url
from scripts.processes import ROOT, venv_tool

PRODUCTION = {
    "APP_ENV": "production",
    "REDIS_URL": "redis://127.0.0.1:6379/13",
    "DATABASE_URL": "postgresql://root@127.0.0.1/x",
    "SESSION_SECRET": "s" * 40,
    "JWT_SECRET": "j" * 40,
}


@pytest.mark.parametrize("missing", ["REDIS_URL", "DATABASE_URL", "SESSION_SECRET", "JWT_SECRET"])
def test_production_names_each_missing_setting(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        load_config(env)


def test_production_values():
    config = load_config(PRODUCTION)
    assert isinstance(config, ProductionConfig)
    assert config.SESSION_COOKIE_SECURE is True and config.HSTS is True


def test_postgres_scheme_is_rewritten():
    assert normalise_database_url("postgres://u@h/db") == "postgresql://u@h/db"
    assert load_config({**PRODUCTION, "DATABASE_URL": "postgres://u@h/db"}).DATABASE_URL == (
        "postgresql://u@h/db"
    )


def test_unknown_app_env_and_bad_numbers_are_refused():
    with pytest.raises(ConfigError, match="APP_ENV"):
        load_config({"APP_ENV": "staging"})
    with pytest.raises(ConfigError, match="REDIS_MAX_CONNECTIONS"):
        load_config({**PRODUCTION, "REDIS_MAX_CONNECTIONS": "many"})


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION and not k.startswith("TEST_")}
    env.update(extra)
    return env


def test_production_process_without_jwt_secret_exits_naming_it():
    env = _clean_env(**{k: v for k, v in PRODUCTION.items() if k != "JWT_SECRET"})
    result = subprocess.run(
        [venv_tool("flask"), "--app", "marketplace", "db", "upgrade"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "JWT_SECRET" in result.stderr


def test_gunicorn_refuses_to_serve_without_jwt_secret():
    env = _clean_env(**{k: v for k, v in PRODUCTION.items() if k != "JWT_SECRET"},
                     WEB_CONCURRENCY="1")
    result = subprocess.run(
        [venv_tool("gunicorn"), "wsgi:app", "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "JWT_SECRET" in result.stderr


def test_importing_the_package_connects_to_nothing():
    code = (
        "import socket\n"
        "def refuse(*a, **k):\n"
        "    raise AssertionError('connected at import time')\n"
        "socket.socket.connect = refuse\n"
        "import marketplace, marketplace.extensions, marketplace.redis, marketplace.db\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_clean_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_create_app_connects_to_nothing_until_used(make_app, redis_url, db):
    import redis as redis_lib
    probe = redis_lib.Redis.from_url(redis_url)

    def connected() -> tuple[set[int], set[int]]:
        with db.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity "
                        "WHERE application_name LIKE 'marketplace%'")
            backends = {pid for (pid,) in cur.fetchall()}
        return {c["id"] for c in probe.client_list() if c.get("name") == "marketplace"}, backends

    redis_before, postgres_before = connected()
    app = make_app()
    redis_after, postgres_after = connected()
    assert redis_after - redis_before == set()
    assert postgres_after - postgres_before == set()
    assert app.extensions["database"].in_use() == 0
