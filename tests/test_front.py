"""The front (`marketplace/front.py`): a known anonymous cached read is answered before Flask,
with exactly what the Flask path would have sent, counted once; everything else, and
whatever its round trip did not settle, is answered by Flask without counting again."""
from __future__ import annotations

from typing import Any

from flask import Flask

from tests.plugins.projects import PROJECTS

NEW = {"title": "Front project", "description": "Served before Flask", "budget": 10}
SAME_ID = {"X-Request-ID": "front-check-1"}


def _answered(app: Flask) -> int:
    return app.extensions["front"].answered


def _projects_count(redis: Any) -> int:
    [key] = [k for k in redis.scan_iter(match="rate-limit*") if b"projects" in k]
    return int(redis.get(key))


def test_a_known_read_gets_exactly_the_flask_paths_answer(client: Any, app: Flask,
                                                          auth: Any) -> None:
    """Same status, body and headers (in order) as the Flask path's HIT of the same request,
    for a 200 and for a 304; the cookie sends the comparison request through Flask."""
    owner = auth.register()
    pid = client.post(f"{PROJECTS}/", json=NEW, headers=owner["headers"]).json["project"]["id"]
    for url in (f"{PROJECTS}/", f"{PROJECTS}?per_page=5&page=1", f"{PROJECTS}/featured",
                f"{PROJECTS}/{pid}", "/api/v1/stats/summary"):
        assert client.get(url).headers["X-Cache"] == "MISS", url  # Flask: built and learned
        before = _answered(app)
        front = client.get(url, headers=SAME_ID)
        assert _answered(app) == before + 1, url
        client.set_cookie("theme", "dark")
        flask = client.get(url, headers=SAME_ID)
        client.delete_cookie("theme")
        assert _answered(app) == before + 1, url  # a cookie: Flask answered
        assert front.status_code == flask.status_code == 200, url
        assert front.data == flask.data, url
        assert list(front.headers.items()) == list(flask.headers.items()), url
        assert front.headers["X-Cache"] == "HIT", url
        assert front.headers["X-Request-ID"] == SAME_ID["X-Request-ID"], url

        tag = {"If-None-Match": front.headers["ETag"], **SAME_ID}
        front = client.get(url, headers=tag)
        client.set_cookie("theme", "dark")
        flask = client.get(url, headers=tag)
        client.delete_cookie("theme")
        assert _answered(app) == before + 2, url
        assert front.status_code == flask.status_code == 304 and front.data == b"", url
        assert list(front.headers.items()) == list(flask.headers.items()), url


def test_refusals_are_flask_limiters_429_and_every_request_counts_once(
        make_app: Any, db: Any, redis: Any) -> None:
    app = make_app(PROJECTS_RATE_LIMIT="4 per minute")
    client = app.test_client()
    statuses = [client.get(f"{PROJECTS}/").status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 200, 429, 429]
    assert _answered(app) == 3  # the first was Flask's (it learned the request)
    refused = client.get(f"{PROJECTS}/")
    assert refused.json["code"] == "rate_limited" and refused.headers["Retry-After"]
    assert refused.headers["X-RateLimit-Limit"] == "4"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert _projects_count(redis) == 7  # seven requests, each counted once


def test_a_missing_entry_is_built_by_the_route_without_a_second_count(
        client: Any, app: Flask, auth: Any, redis: Any) -> None:
    owner = auth.register()
    assert client.post(f"{PROJECTS}/", json=NEW, headers=owner["headers"]).status_code == 201
    assert client.get(f"{PROJECTS}/").headers["X-Cache"] == "MISS"
    assert client.get(f"{PROJECTS}/").headers["X-Cache"] == "HIT"
    counted, answered = _projects_count(redis), _answered(app)
    for key in redis.scan_iter(match="cache:/api/v1/projects?*"):
        redis.delete(key)  # evicted, as allkeys-lru may
    rebuilt = client.get(f"{PROJECTS}/")
    assert rebuilt.status_code == 200 and rebuilt.headers["X-Cache"] == "MISS"
    assert len(rebuilt.json["data"]) == 1
    assert _projects_count(redis) == counted + 1 and _answered(app) == answered
    assert client.get(f"{PROJECTS}/").headers["X-Cache"] == "HIT"
    assert _answered(app) == answered + 1


def test_only_anonymous_gets_without_a_body_are_answered_before_flask(
        client: Any, app: Flask, auth: Any) -> None:
    owner = auth.register()
    client.get(f"{PROJECTS}/")
    answered = _answered(app)
    bearer = client.get(f"{PROJECTS}/", headers=owner["headers"])
    head = client.head(f"{PROJECTS}/")
    with_body = client.get(f"{PROJECTS}/", data=b"{}", content_type="application/json")
    other_query = client.get(f"{PROJECTS}/?page=1")  # not learned yet: the route's own
    assert bearer.status_code == head.status_code == with_body.status_code == 200
    assert other_query.status_code == 200
    assert _answered(app) == answered
    assert client.get(f"{PROJECTS}/?page=1").status_code == 200
    assert _answered(app) == answered + 1


def test_a_bad_query_is_never_learned(client: Any, app: Flask) -> None:
    for _ in range(3):
        refused = client.get(f"{PROJECTS}/?per_page=0")
        assert refused.status_code == 400 and refused.json["code"] == "invalid_request"
    assert _answered(app) == 0


def test_front_answers_are_logged_and_counted_like_flasks(client: Any, app: Flask,
                                                          log_stream: Any) -> None:
    from marketplace import metrics

    client.get(f"{PROJECTS}/")
    with app.app_context():
        hits_before = metrics.totals()["cache_hits"]
    requests = app.extensions["prometheus"].requests
    route = requests.labels("GET", "/api/v1/projects/", "200")
    counted = route._value.get()
    assert client.get(f"{PROJECTS}/", headers=SAME_ID).status_code == 200
    assert _answered(app) == 1
    assert route._value.get() == counted + 1
    with app.app_context():
        assert metrics.totals()["cache_hits"] == hits_before + 1
    lines = [line for line in log_stream.getvalue().splitlines() if "front-check-1" in line]
    assert len(lines) == 1 and "GET /api/v1/projects/ 200" in lines[0], lines


def test_a_due_job_sends_the_request_through_flask(client: Any, app: Flask) -> None:
    client.get(f"{PROJECTS}/")
    periodic = app.extensions["periodic"]
    periodic.make_due("counters")
    assert client.get(f"{PROJECTS}/").headers["X-Cache"] == "HIT"
    assert _answered(app) == 0 and not periodic.due  # Flask ran the job after its response
    assert client.get(f"{PROJECTS}/").headers["X-Cache"] == "HIT"
    assert _answered(app) == 1
