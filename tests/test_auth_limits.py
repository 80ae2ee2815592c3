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


def test_every_limited_route_is_in_a_blueprint_the_limiter_checks(app: Any) -> None:
    """Requests outside the declared blueprints skip Flask-Limiter (a request filter), so a
    limit added elsewhere without `limited_blueprint(bp)` would silently never apply."""
    from flask_limiter.util import get_qualified_name

    from marketplace.extensions import _limited_blueprints, limiter

    manager = limiter.limit_manager
    limited = {
        endpoint.rpartition(".")[0] for endpoint, view in app.view_functions.items()
        if manager._blueprint_limits.get(endpoint.rpartition(".")[0])
        or get_qualified_name(view) in manager._decorated_limits
    }
    assert limited == _limited_blueprints == {"auth", "projects"}


def test_flask_limiter_logs_no_traceback_for_a_redis_outage(app: Any, caplog: Any) -> None:
    """Requests counting while Redis goes away are swallowed by Flask-Limiter, which logs a
    traceback for each; the breaker logs the outage once, so those records are dropped.
    Any other storage error keeps its traceback."""
    import logging

    import redis as redis_lib

    logger = logging.getLogger("flask-limiter")
    caplog.set_level(logging.INFO, logger="flask-limiter")
    for exc in (redis_lib.ConnectionError("Connection refused"), ConnectionResetError(),
                redis_lib.TimeoutError("Timeout reading from socket")):
        try:
            raise exc
        except Exception:
            logger.exception("Failed to rate limit. Swallowing error")
    assert [r for r in caplog.records if r.name == "flask-limiter"] == []
    try:
        raise redis_lib.ResponseError("WRONGTYPE Operation against a key")
    except Exception:
        logger.exception("Failed to rate limit. Swallowing error")
    [kept] = [r for r in caplog.records if r.name == "flask-limiter"]
    assert kept.exc_info is not None
