"""Key hygiene: a full workload on a private Redis leaves no key without a TTL, never sends
KEYS, and anonymous requests and health probes write no session."""
from __future__ import annotations

from typing import Any

import redis as redis_lib

from tests.helpers import API
from tests.plugins.auth import DEFAULT_PASSWORD, AuthActions, bearer


def _addr(n: int) -> dict[str, str]:
    return {"REMOTE_ADDR": f"10.0.0.{n}"}


def _anonymous_and_health(client: Any, project_id: str | None = None) -> None:
    """Every request that neither logs in nor authenticates, health probes first."""
    for path in ("/health", "/health/", "/health/redis", "/health/db", "/health/ready",
                 "/stats/online", "/stats/summary", "/projects", "/projects/featured",
                 "/projects?status=open&sort=budget", "/projects?q=hygiene&per_page=5",
                 "/no-such-route", "/health/redis-stats", "/auth/me"):
        response = client.get(API + path)
        assert "Set-Cookie" not in response.headers, path
    if project_id:
        assert client.get(f"{API}/projects/{project_id}").status_code == 200
    client.post(f"{API}/projects", json={"title": "x"})  # 401, no session either
    client.put(f"{API}/health")  # 405


def test_full_workload_leaves_every_key_with_a_ttl_and_never_sends_keys(
        make_app: Any, db: Any, private_redis: Any) -> None:
    app = make_app(REDIS_URL=private_redis.url, AUTH_RATE_LIMIT="8 per 15 minutes",
                   LOGIN_FAILURE_LIMIT="3 per 15 minutes", PROJECTS_RATE_LIMIT="60 per hour",
                   ALERT_CHECK_INTERVAL=1)
    server = redis_lib.Redis.from_url(private_redis.url)
    anonymous = app.test_client()

    # Anonymous requests and health probes write no session key (and set no cookie).
    _anonymous_and_health(anonymous)
    assert list(server.scan_iter(match="session:*")) == []

    # Accounts: register, login (session), refresh, me by token and by cookie, logout.
    browser = app.test_client()
    reg = browser.post(f"{API}/auth/register", environ_base=_addr(1), json={
        "email": "hygiene@example.com", "password": DEFAULT_PASSWORD, "name": "H"})
    assert reg.status_code == 201
    login = browser.post(f"{API}/auth/login", environ_base=_addr(1), json={
        "email": "hygiene@example.com", "password": DEFAULT_PASSWORD})
    assert login.status_code == 200
    client_headers = bearer(login.json["access_token"])
    assert browser.get(f"{API}/auth/me").status_code == 200  # the session cookie
    assert browser.get(f"{API}/auth/me", headers=client_headers).status_code == 200
    refreshed = browser.post(f"{API}/auth/refresh", environ_base=_addr(1),
                             headers=bearer(login.json["refresh_token"]))
    assert refreshed.status_code == 200
    actions = AuthActions(app)
    agent = actions.register("agent")
    admin = actions.register("admin")

    # Projects: create, read (cache fills and hits), patch, proposals, accept, delete.
    created = browser.post(f"{API}/projects", headers=client_headers, json={
        "title": "Hygiene project", "description": "Keys with TTLs", "budget": 500,
        "skills": ["redis"]})
    assert created.status_code == 201
    pid = created.json["project"]["id"]
    for _ in range(2):
        assert browser.get(f"{API}/projects/{pid}").status_code == 200
        assert browser.get(f"{API}/projects?skill=redis").status_code == 200
        assert browser.get(f"{API}/projects/featured").status_code == 200
        assert browser.get(f"{API}/stats/summary").status_code == 200
    assert browser.patch(f"{API}/projects/{pid}", headers=client_headers,
                         json={"budget": 600}).status_code == 200
    proposal = browser.post(f"{API}/projects/{pid}/proposals", headers=agent["headers"],
                            json={"cover_letter": "me", "bid_amount": 550})
    assert proposal.status_code == 201
    assert browser.get(f"{API}/projects/{pid}/proposals",
                       headers=client_headers).status_code == 200
    accepted = browser.post(
        f"{API}/projects/{pid}/proposals/{proposal.json['proposal']['id']}/accept",
        headers=client_headers)
    assert accepted.status_code == 200
    other = browser.post(f"{API}/projects", headers=admin["headers"], json={
        "title": "To delete", "description": "", "budget": 1})
    assert browser.delete(f"{API}/projects/{other.json['project']['id']}",
                          headers=admin["headers"]).status_code == 200
    assert browser.get(f"{API}/health/redis-stats", headers=admin["headers"]).status_code == 200
    assert browser.get(f"{API}/stats/online").json["onlineUsers"] >= 1

    # Anonymous reads again, now that caches and sessions exist: still no new session.
    sessions_before = sorted(server.scan_iter(match="session:*"))
    _anonymous_and_health(app.test_client(), pid)
    assert sorted(server.scan_iter(match="session:*")) == sessions_before

    # A second device keeps its session; the first logs out later.
    keeper = app.test_client()
    assert keeper.post(f"{API}/auth/login", environ_base=_addr(5), json={
        "email": "hygiene@example.com", "password": DEFAULT_PASSWORD}).status_code == 200

    # Limits: failed logins per e-mail, the auth limit per address, the projects limit.
    for _ in range(4):
        last = browser.post(f"{API}/auth/login", environ_base=_addr(2), json={
            "email": "hygiene@example.com", "password": "wrong-password-1"})
    assert last.status_code == 429
    codes = {browser.post(f"{API}/auth/login", environ_base=_addr(3), json={
        "email": f"nobody{i}@example.com", "password": "wrong-password-1"}).status_code
        for i in range(9)}
    assert 429 in codes
    codes = {anonymous.get(f"{API}/projects", environ_base=_addr(4)).status_code
             for _ in range(61)}
    assert 429 in codes

    # Logout: the token is revoked (jwt:revoked:), the session destroyed.
    assert browser.post(f"{API}/auth/logout", headers=client_headers).status_code == 200
    revoked = browser.get(f"{API}/auth/me", headers=client_headers)
    assert revoked.status_code == 401 and revoked.json["code"] == "token_revoked"

    # Commands the operator runs.
    runner = app.test_cli_runner()
    assert runner.invoke(args=["redis-check"]).exit_code in (0, 1)
    assert runner.invoke(args=["cleanup"]).exit_code == 0
    with app.app_context():
        from marketplace import metrics
        metrics.flush()

    keys = {key.decode(): server.ttl(key) for key in server.scan_iter(count=1000)}
    without_ttl = sorted(key for key, ttl in keys.items() if ttl < 0)
    assert without_ttl == []
    prefixes = ("cache:", "rate-limit", "session:", "user:", "jwt:revoked:", "active:",
                "stats:")
    assert all(key.startswith(prefixes) for key in keys), sorted(keys)
    for prefix in prefixes:  # the workload touched every kind of key of the contract
        assert any(key.startswith(prefix) for key in keys), prefix
    commands = server.info("commandstats")
    assert "cmdstat_keys" not in commands
    server.close()
