"""Hostile input on every body, query parameter and header: a 4xx in the envelope, nothing changed.

Each case runs against the real app, PostgreSQL and Redis with a marketplace already in
place (users, a project, a proposal, warm caches). After the request the tables' contents
and the set of Redis keys must be exactly what they were; counters aside.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from marketplace.keys import COUNTERS as COUNTERS_KEY
from marketplace.keys import HISTORY as HISTORY_KEY
from marketplace.keys import USER as USER_PREFIX
from scripts.processes import GunicornService, http
from tests.helpers import NO_RATE_LIMITS, raw_request, service_env
from tests.plugins.auth import AuthActions
from tests.plugins.projects import make_project

TABLES = ("users", "projects", "proposals", "revoked_tokens")
# Counters may appear (rate limits, and the service's own metrics hash, flushed every few
# seconds by whichever request ends then, and the console's history that the periodic check
# samples), and so may the cached record of an account that authenticated (a bearer request
# reads its account: a read-through cache fill, not a change); nothing else may.
COUNTERS = (b"rate-limit", b"LIMITS:", COUNTERS_KEY.encode(), HISTORY_KEY.encode(),
            USER_PREFIX.encode())


class World:
    """A small marketplace and a fingerprint of everything durable or cached in it."""

    def __init__(self, app: Any, db: Any, redis: Any) -> None:
        self.app, self.db, self.redis, self.client = app, db, redis, app.test_client()
        auth = AuthActions(app)
        self.client_user, self.agent = auth.register("client"), auth.register("agent")
        self.project = make_project(db, self.client_user["user"]["id"])
        with db.cursor() as cur:
            cur.execute("INSERT INTO proposals (project_id, agent_id, cover_letter, bid_amount) "
                        "VALUES (%s, %s, 'Hire me', 10)", (self.project, self.agent["user"]["id"]))
        for who in (self.client_user, self.agent):  # presence and user cache in place
            assert self.client.get("/api/v1/auth/me", headers=who["headers"]).status_code == 200
        for path in ("/api/v1/projects", "/api/v1/projects/featured",
                     f"/api/v1/projects/{self.project}", "/api/v1/stats/summary"):
            assert self.client.get(path).status_code == 200

    def fingerprint(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        with self.db.cursor() as cur:
            for table in TABLES:
                cur.execute(f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' "
                            f"ORDER BY t::text), '')) FROM {table} t")
                state[table] = cur.fetchone()
        state["redis"] = {k for k in self.redis.scan_iter(count=1000)
                          if not k.startswith(COUNTERS)}
        return state


@pytest.fixture
def world(make_app, db, redis) -> World:
    return World(make_app(**NO_RATE_LIMITS), db, redis)


def assert_refused(world: World, response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.data[:300]
    assert response.headers["Content-Type"] == "application/json"
    body = response.get_json()
    assert body["success"] is False and body["code"] == code and body["error"]
    assert set(body) <= {"success", "error", "code", "details"}
    return body


def check(world: World, method: str, path: str, status: int, code: str,
          **kwargs: Any) -> dict[str, Any]:
    """One hostile request: refused as expected, and the world unchanged."""
    before = world.fingerprint()
    body = assert_refused(world, world.client.open(path, method=method, **kwargs), status, code)
    assert world.fingerprint() == before
    return body


# Every route that reads a body, with a valid body and the credentials it needs.
def body_routes(world: World) -> dict[str, tuple[str, str, dict[str, Any], dict[str, str]]]:
    project = f"/api/v1/projects/{world.project}"
    client, agent = world.client_user["headers"], world.agent["headers"]
    return {
        "register": ("POST", "/api/v1/auth/register",
                     {"email": "new@example.com", "password": "long-enough-1", "name": "New",
                      "role": "agent"}, {}),
        "login": ("POST", "/api/v1/auth/login",
                  {"email": world.client_user["user"]["email"], "password": "x" * 8}, {}),
        "logout": ("POST", "/api/v1/auth/logout",
                   {"refresh_token": world.client_user["refresh_token"]}, client),
        "create_project": ("POST", "/api/v1/projects",
                           {"title": "A new project", "description": "Words", "budget": 100,
                            "skills": ["python"], "deadline": "2030-01-01"}, client),
        "update_project": ("PATCH", project,
                           {"title": "Renamed", "description": "More", "skills": ["go"],
                            "deadline": "2031-02-03T04:05:06Z", "status": "cancelled"}, client),
        "create_proposal": ("POST", project + "/proposals",
                            {"cover_letter": "Let me", "bid_amount": 5}, agent),
    }


BODY_ROUTES = ("register", "login", "logout", "create_project", "update_project",
               "create_proposal")
# Every string field of every body (skills: its first item).
STRING_FIELDS = [
    ("register", "email"), ("register", "password"), ("register", "name"),
    ("register", "role"), ("login", "email"), ("login", "password"),
    ("logout", "refresh_token"), ("create_project", "title"),
    ("create_project", "description"), ("create_project", "skills"),
    ("create_project", "deadline"), ("update_project", "title"),
    ("update_project", "description"), ("update_project", "skills"),
    ("update_project", "deadline"), ("update_project", "status"),
    ("create_proposal", "cover_letter"),
]


def _raw(world: World, route: str, text: bytes, content_type: str | None = "application/json"):
    method, path, _, headers = body_routes(world)[route]
    kwargs: dict[str, Any] = {"data": text, "headers": headers}
    if content_type:
        kwargs["content_type"] = content_type
    return method, path, kwargs


MALFORMED = [b'{"title": ', b"{'a': 1}", b'{"a": 1,}', b"NaN", b"{}}", b"\xef\xbb\xbf{}",
             b"\xff\xfe{", b'{"a": 1e309}', b'{"a": "\\ud800"}', b'{"a": "\xed\xa0\x80"}']
NOT_OBJECTS = [b"[]", b"[{}]", b'"text"', b"42", b"null", b"true"]
NOT_JSON_TYPES = [None, "text/plain", "application/x-www-form-urlencoded",
                  "multipart/form-data; boundary=x", "application/jsonx", "text/json",
                  "application/xml"]


@pytest.mark.parametrize("route", BODY_ROUTES)
def test_malformed_and_non_object_json_is_400(world, route):
    for text in MALFORMED + NOT_OBJECTS:
        method, path, kwargs = _raw(world, route, text)
        check(world, method, path, 400, "invalid_json", **kwargs)


@pytest.mark.parametrize("route", BODY_ROUTES)
def test_body_without_the_json_content_type_is_415(world, route):
    _, _, valid, _ = body_routes(world)[route]
    for content_type in NOT_JSON_TYPES:
        method, path, kwargs = _raw(world, route, json.dumps(valid).encode(), content_type)
        check(world, method, path, 415, "unsupported_media_type", **kwargs)


@pytest.mark.parametrize("route", BODY_ROUTES)
def test_body_over_the_limit_with_content_length_is_413(world, route):
    method, path, kwargs = _raw(world, route, b'{"a": "' + b"x" * (1024 * 1024) + b'"}')
    check(world, method, path, 413, "payload_too_large", **kwargs)


@pytest.mark.parametrize("route", BODY_ROUTES)
def test_unknown_fields_are_422(world, route):
    _, _, valid, _ = body_routes(world)[route]
    method, path, kwargs = _raw(world, route, json.dumps({**valid, "is_admin": True}).encode())
    body = check(world, method, path, 422, "validation_error", **kwargs)
    assert body["details"] == {"is_admin": "is not a known field"}


def _with(valid: dict[str, Any], field: str, suffix: str) -> dict[str, Any]:
    value = valid[field]
    return {**valid, field: [value[0] + suffix] if isinstance(value, list) else value + suffix}


def test_nul_and_lone_surrogates_in_every_string_field(world):
    """NUL: a 422 naming the field. A lone surrogate, escaped (`\\udc00`) in JSON text, is
    not Unicode, so orjson refuses the whole document: 400."""
    for route, field in STRING_FIELDS:
        _, _, valid, _ = body_routes(world)[route]
        method, path, kwargs = _raw(world, route, json.dumps(_with(valid, field, "\x00")).encode())
        body = check(world, method, path, 422, "validation_error", **kwargs)
        assert field in body["details"], (route, field)
        text = json.dumps(_with(valid, field, "\udc00"))  # ensure_ascii: sent as \udc00
        assert "\\udc00" in text
        method, path, kwargs = _raw(world, route, text.encode())
        check(world, method, path, 400, "invalid_json", **kwargs)


NUMBERS = [
    (b"1e309", 400, "invalid_json"), (b"-1e309", 400, "invalid_json"),
    (b"100000000000000000000", 422, "validation_error"),
    (b"1000000000.01", 422, "validation_error"), (b"0", 422, "validation_error"),
    (b"-1", 422, "validation_error"), (b"0.001", 422, "validation_error"),
    (b"true", 422, "validation_error"), (b'"100"', 422, "validation_error"),
]


@pytest.mark.parametrize(("route", "field"), [("create_project", "budget"),
                                              ("update_project", "budget"),
                                              ("create_proposal", "bid_amount")])
def test_out_of_range_numbers(world, route, field):
    """`1e309` overflows a double (orjson refuses it: 400); 10**20 parses but is out of range."""
    _, _, valid, _ = body_routes(world)[route]
    for number, status, code in NUMBERS:
        text = json.dumps({**valid, field: "NUMBER"}).encode().replace(b'"NUMBER"', number)
        method, path, kwargs = _raw(world, route, text)
        check(world, method, path, status, code, **kwargs)


LIST = "/api/v1/projects"


@pytest.mark.parametrize("name", ["page", "per_page", "status", "skill", "q", "sort"])
def test_nul_and_surrogates_in_query_parameters(world, name):
    """NUL is refused; a UTF-8-encoded surrogate is invalid UTF-8, which werkzeug decodes as
    U+FFFD: a plain (if odd) search term for `q` and `skill` (200, a cached empty page, no
    other key), refused everywhere else."""
    for value in ["%00", "x%00", "%ED%A0%80"]:
        if value == "%ED%A0%80" and name in ("q", "skill"):
            before = world.fingerprint()
            response = world.client.get(f"{LIST}?{name}={value}")
            assert response.status_code == 200 and response.get_json()["data"] == []
            after = world.fingerprint()
            assert {k for k in after["redis"] - before["redis"]
                    if not k.startswith(b"cache:")} == set()
            assert {t: after[t] for t in TABLES} == {t: before[t] for t in TABLES}
            continue
        body = check(world, "GET", f"{LIST}?{name}={value}", 400, "invalid_request")
        assert name in body["details"]


BAD_QUERIES = [
    "page=0", "page=-1", "per_page=0", "per_page=-1", "per_page=101", "page=100001",
    "page=1e309", "page=100000000000000000000", "per_page=1.5", "page=%2B1", "page=",
    "page=1&page=2", "sort=newest&sort=budget", "q=a&q=b", "status=open&status=open",
    "unknown=1", "q=" + "x" * 201, "skill=" + "s" * 51, "status=OPEN", "sort=oldest",
]


def test_bad_listing_queries_are_400(world):
    """Zero, negative, huge, non-integer and repeated pagination; unknown or repeated names."""
    for query in BAD_QUERIES:
        body = check(world, "GET", f"{LIST}?{query}", 400, "invalid_request")
        assert body["details"], query
    for query in ["page=1", "x=%00", "page=1&page=1"]:  # featured takes none
        check(world, "GET", f"{LIST}/featured?{query}", 400, "invalid_request")


UNSAFE_REQUEST_IDS = [
    "has space", "x" * 129, "semi;colon", "<script>alert(1)</script>", "%0d%0aSet-Cookie:a=1",
    "a\tb", "\u00e9t\u00e9", "id,other", "'quoted'", "../../etc/passwd", "",
]


def test_unsafe_request_ids_are_never_echoed(world):
    """CR/LF cannot travel through the test client (nor most clients); gunicorn's part is
    below. Anything outside [A-Za-z0-9._:-]{1,128} is replaced by a fresh id."""
    before = world.fingerprint()
    for value in UNSAFE_REQUEST_IDS:
        response = world.client.get("/api/v1/health", headers={"X-Request-ID": value})
        got = response.headers["X-Request-ID"]
        assert got != value and len(got) == 32 and got.isalnum(), value
    assert world.fingerprint() == before


def test_what_gunicorn_itself_refuses(database_url, redis_url, tmp_path, world, make_app):
    """Past the reach of Flask: header framing and size limits are gunicorn's, answered in
    gunicorn's HTML (see docs/security.md). None is a 5xx, none reaches the app, nothing
    changes. The chunked body over the limit (as in tests/test_request_hygiene.py, here on an
    authenticated project write) is the app's JSON 413."""
    env = service_env(database_url, redis_url, MAX_CONTENT_LENGTH="1024", **NO_RATE_LIMITS)
    signer = make_app(JWT_SECRET=env["JWT_SECRET"])  # tokens the gunicorn instance accepts
    token = AuthActions(signer).register("client")["access_token"]
    before = world.fingerprint()
    with GunicornService(env, tmp_path, workers=1) as service:
        chunk = json.dumps({"title": "x" * 2000, "budget": 5}).encode()
        chunked = (b"POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                   + token.encode() + b"\r\nContent-Type: application/json\r\n"
                   b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                   + f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n")
        reply = raw_request(service.port, chunked)
        assert reply.startswith(b"HTTP/1.1 413") and b'"payload_too_large"' in reply

        long_header = http("GET", service.url + "/api/v1/health",
                           headers={"X-Long": "a" * 16 * 1024})
        assert long_header.status == 431  # gunicorn's limit_request_field_size (8190 bytes)
        long_uri = raw_request(service.port, b"GET /api/v1/health?" + b"a" * 5000
                                + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert long_uri.startswith(b"HTTP/1.1 414")  # limit_request_line (4094 bytes)

        # A bare LF inside X-Request-ID: gunicorn splits or refuses it; never echoed.
        injected = raw_request(service.port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n"
                                b"X-Request-ID: abc\nSet-Cookie: evil=1\r\n"
                                b"Connection: close\r\n\r\n")
        head = injected.split(b"\r\n\r\n")[0]
        assert injected.startswith(b"HTTP/1.1 400") and b"evil" not in head
        assert http("GET", service.url + "/api/v1/health").status == 200
    assert world.fingerprint() == before
