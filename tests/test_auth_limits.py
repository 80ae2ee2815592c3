"""Credential rate limits: per address (shared by instances), per e-mail, proxies, Redis down."""
from __future__ import annotations

from typing import Any

from tests.plugins.auth import DEFAULT_PASSWORD, bearer, login

BODY_429 = {"success": False, "error": "Too many requests, please try again later.",
            "code": "rate_limited"}


WRONG = "wrong-password"


def assert_rate_limited(response: Any) -> None:
    assert response.status_code == 429
    assert response.json == BODY_429
    # Flask-Limiter rounds the reset up by one second.
    assert 1 <= int(response.headers["Retry-After"]) <= 901
    assert response.headers["X-RateLimit-Limit"] == "5"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > 0


def test_six_logins_from_one_address(auth: Any, client: Any) -> None:
    user = auth.register()
    statuses = [login(client, user["user"]["email"], DEFAULT_PASSWORD).status_code
                for _ in range(5)]
    assert statuses == [200] * 5
    assert_rate_limited(login(client, user["user"]["email"], DEFAULT_PASSWORD))
    # register and refresh share the same budget
    assert_rate_limited(client.post("/api/v1/auth/register", json={}))
    assert_rate_limited(client.post("/api/v1/auth/refresh",
                                    headers=bearer(user["refresh_token"])))


def test_two_instances_share_the_count(client: Any, make_app: Any) -> None:
    second = make_app().test_client()
    for instance in (client, second, client, second, client):
        assert login(instance, "someone@example.com", WRONG).status_code == 401
    assert_rate_limited(login(second, "other@example.com", WRONG))


def test_failed_logins_per_email_whatever_the_address(auth: Any, make_app: Any, db: Any,
                                                      redis: Any) -> None:
    client = make_app(TRUSTED_PROXY_COUNT=1).test_client()
    user = auth.register()
    email = user["user"]["email"]
    for i in range(5):
        response = login(client, email.upper(), WRONG, **{"X-Forwarded-For": f"203.0.113.{i}"})
        assert response.status_code == 401, response.json
    assert_rate_limited(login(client, email, WRONG, **{"X-Forwarded-For": "203.0.113.99"}))
    # Even the right password: the address is new, the e-mail is being stuffed.
    assert_rate_limited(login(client, email, DEFAULT_PASSWORD,
                              **{"X-Forwarded-For": "203.0.113.100"}))
    # Another e-mail from a fresh address is not affected.
    fresh = login(client, "x@example.com", WRONG, **{"X-Forwarded-For": "198.51.100.7"})
    assert fresh.status_code == 401


def test_successful_logins_do_not_count_as_failures(auth: Any, make_app: Any, db: Any,
                                                   redis: Any) -> None:
    client = make_app(TRUSTED_PROXY_COUNT=1).test_client()
    user = auth.register()
    for i in range(7):
        response = login(client, user["user"]["email"], DEFAULT_PASSWORD,
                         **{"X-Forwarded-For": f"198.51.100.{i}"})
        assert response.status_code == 200


def test_forwarded_for_is_ignored_without_trusted_proxies(client: Any) -> None:
    for i in range(5):
        response = login(client, f"u{i}@example.com", WRONG,
                         **{"X-Forwarded-For": f"203.0.113.{i}"})
        assert response.status_code == 401
    assert_rate_limited(login(client, "u9@example.com", WRONG,
                              **{"X-Forwarded-For": "203.0.113.9"}))


def test_only_the_trusted_hop_is_believed(make_app: Any, db: Any, redis: Any) -> None:
    """A client prepending fake hops does not get a new address."""
    client = make_app(TRUSTED_PROXY_COUNT=1).test_client()
    for i in range(5):
        forwarded = f"10.0.0.{i}, 203.0.113.5"  # spoofed hop, then what the proxy saw
        response = login(client, f"u{i}@example.com", WRONG, **{"X-Forwarded-For": forwarded})
        assert response.status_code == 401
    spoofed = {"X-Forwarded-For": "1.2.3.4, 203.0.113.5"}
    assert_rate_limited(login(client, "u9@example.com", WRONG, **spoofed))


def test_limits_apply_per_process_while_redis_is_down(make_app: Any, db: Any,
                                                      private_redis: Any) -> None:
    client = make_app(REDIS_URL=private_redis.url).test_client()
    private_redis.stop()
    for i in range(5):
        response = login(client, f"down{i}@example.com", WRONG)
        assert response.status_code == 401, response.json
    assert_rate_limited(login(client, "down9@example.com", WRONG))


LIMITED_AUTH_ROUTES = {"auth.register", "auth.login", "auth.refresh", "auth.change_password"}


def test_every_limited_route_counts_against_its_limit(make_app: Any, db: Any,
                                                      redis: Any) -> None:
    """Limits are counted by each route (Flask-Limiter's limits resolved once per app), so a
    route that forgot to count would silently never be limited: every route of the projects
    blueprint and the credential routes of auth must refuse their second request here."""
    import uuid

    app = make_app(PROJECTS_RATE_LIMIT="1 per hour", AUTH_RATE_LIMIT="1 per hour")
    some_id = str(uuid.uuid4())
    checked = set()
    for n, rule in enumerate(app.url_map.iter_rules()):
        if rule.endpoint.split(".")[0] not in ("projects", "auth") or rule.rule.endswith("/"):
            continue
        path = rule.rule.replace("<uuid:project_id>", some_id).replace(
            "<uuid:proposal_id>", some_id)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            client = app.test_client()
            address = {"REMOTE_ADDR": f"10.1.{n}.{len(checked)}"}  # fresh for every route
            first, second = (client.open(path, method=method, environ_base=address)
                             for _ in range(2))
            limited = (rule.endpoint.startswith("projects.")
                       or rule.endpoint in LIMITED_AUTH_ROUTES)
            if limited:
                assert first.status_code != 429, (rule.rule, method)
                assert second.status_code == 429, (rule.rule, method, second.status_code)
            else:
                assert second.status_code != 429, (rule.rule, method)
            checked.add((rule.endpoint, method))
    assert {e for e, _ in checked} >= LIMITED_AUTH_ROUTES | {"projects.list_projects",
                                                               "projects.create_project"}


def test_a_redis_outage_logs_no_traceback_per_request(make_app: Any, db: Any,
                                                      private_redis: Any, caplog: Any) -> None:
    """While Redis is down, limited requests count in the per-process fallback; the breaker
    logs the outage once, and no request logs a traceback."""
    import logging

    client = make_app(REDIS_URL=private_redis.url).test_client()
    private_redis.stop()
    caplog.set_level(logging.INFO)
    for i in range(5):
        assert login(client, f"trace{i}@example.com").status_code == 401
    assert_rate_limited(login(client, "trace9@example.com"))
    assert [r for r in caplog.records if r.exc_info] == []
    assert len([r for r in caplog.records if "redis unavailable" in r.getMessage()]) == 1
