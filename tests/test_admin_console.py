"""The operator console over plain HTTP: who gets in, what its forms refuse, what its pages
and data endpoint send, and the history it keeps in Redis (bounded, with a TTL)."""
from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

import orjson
import pytest
import redis as redis_lib

from marketplace import keys
from marketplace.admin import figures
from marketplace.health import monitoring
from tests.plugins.auth import DEFAULT_PASSWORD, AuthActions

CONSOLE, LOGIN, LOGOUT, DATA = "/admin/", "/admin/login", "/admin/logout", "/admin/data"
CSRF_COOKIE = "admin-csrf"  # `__Host-admin-csrf` when cookies are Secure (production)
_HIDDEN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(page: Any) -> str:
    match = _HIDDEN_TOKEN.search(page.get_data(as_text=True))
    assert match, page.get_data(as_text=True)[:500]
    return match.group(1)


def login_form(client: Any, email: str, password: str = DEFAULT_PASSWORD,
               **headers: str) -> Any:
    """What a browser does: open the login page, post its form with the page's token."""
    token = form_token(client.get(LOGIN))
    return client.post(LOGIN, data={"email": email, "password": password, "csrf_token": token},
                       headers=headers)


def session_keys(server: redis_lib.Redis) -> list[bytes]:
    return list(server.scan_iter(match="session:*"))


def cookie(client: Any, name: str, path: str = "/admin") -> str | None:
    found = client.get_cookie(name, path=path)
    return found.value if found is not None else None


@pytest.fixture
def admin(auth: AuthActions) -> dict[str, Any]:
    return auth.register("admin")


# --- who gets in -------------------------------------------------------------------------------


def test_anonymous_is_sent_to_the_login_page_and_the_data_is_refused(
        client: Any, redis: Any) -> None:
    response = client.get(CONSOLE)
    assert response.status_code in (302, 303)
    assert response.headers["Location"].endswith(LOGIN)
    data = client.get(DATA)
    assert data.status_code == 401
    assert data.json == {"success": False, "error": "Unauthorized", "code": "unauthorized"}
    page = client.get(LOGIN)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'type="email"' in html and 'type="password"' in html and 'method="post"' in html
    assert session_keys(redis) == [] and cookie(client, "session", "/") is None


def test_the_login_page_puts_the_same_token_in_a_strict_cookie_and_the_form(
        client: Any) -> None:
    page = client.get(LOGIN)
    set_cookie = page.headers["Set-Cookie"]
    assert set_cookie.startswith(f"{CSRF_COOKIE}=")
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    assert form_token(page) == cookie(client, CSRF_COOKIE)
    assert len(form_token(page)) == 43
    again = client.get(LOGIN)  # the browser keeps its token while it has one
    assert form_token(again) == form_token(page)


def test_an_admin_logs_in_through_the_form_into_the_apis_own_session(
        client: Any, redis: Any, admin: dict[str, Any]) -> None:
    before = cookie(client, CSRF_COOKIE) or form_token(client.get(LOGIN))
    response = login_form(client, admin["user"]["email"])
    assert response.status_code == 303 and response.headers["Location"].endswith(CONSOLE)
    set_cookies = response.headers.getlist("Set-Cookie")
    session_header = next(c for c in set_cookies if c.startswith("session="))
    assert "HttpOnly" in session_header and "SameSite=Lax" in session_header
    pass_header = next(c for c in set_cookies if c.startswith("admin-pass="))
    assert all(flag in pass_header for flag in ("HttpOnly", "SameSite=Strict", "Path=/admin"))
    assert cookie(client, CSRF_COOKIE) != before  # a new token for the signed-in browser
    assert len(session_keys(redis)) == 1

    page = client.get(CONSOLE)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert admin["user"]["email"] in html and 'action="/admin/logout"' in html
    assert form_token(page) == cookie(client, CSRF_COOKIE)
    me = client.get("/api/v1/auth/me")  # the very session the API's login creates
    assert me.status_code == 200 and me.json["user"]["id"] == admin["user"]["id"]
    assert client.get(LOGIN).headers["Location"].endswith(CONSOLE)  # already signed in


def test_the_api_logins_session_opens_the_console_and_other_roles_get_403(
        app: Any, auth: AuthActions, admin: dict[str, Any]) -> None:
    browser = app.test_client()
    assert browser.post("/api/v1/auth/login", json={
        "email": admin["user"]["email"], "password": DEFAULT_PASSWORD}).status_code == 200
    assert browser.get(CONSOLE).status_code == 200
    assert browser.get(DATA).status_code == 200
    for role in ("client", "agent"):
        user = auth.register(role)
        other = app.test_client()
        assert other.post("/api/v1/auth/login", json={
            "email": user["user"]["email"], "password": DEFAULT_PASSWORD}).status_code == 200
        page = other.get(CONSOLE)
        assert page.status_code == 403 and page.mimetype == "text/html"
        assert "administrators only" in page.get_data(as_text=True)
        refused = other.get(DATA)
        assert refused.status_code == 403 and refused.json["code"] == "forbidden"


def test_a_non_admin_cannot_log_in_through_the_form(client: Any, auth: AuthActions,
                                                    redis: Any) -> None:
    user = auth.register("client")
    response = login_form(client, user["user"]["email"])
    assert response.status_code == 403
    assert "not an administrator" in response.get_data(as_text=True)
    assert session_keys(redis) == [] and cookie(client, "admin-pass") is None


def test_a_wrong_password_shows_the_form_again_with_the_address_escaped(
        client: Any, admin: dict[str, Any], redis: Any) -> None:
    response = login_form(client, admin["user"]["email"], "not-the-password")
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "Invalid e-mail or password." in html
    assert f'value="{admin["user"]["email"]}"' in html
    hostile = login_form(client, '"><script>alert(1)</script>@example.com', "whatever-1")
    assert hostile.status_code == 401
    assert "<script>alert(1)" not in hostile.get_data(as_text=True)
    assert "&#34;&gt;&lt;script&gt;" in hostile.get_data(as_text=True)
    assert session_keys(redis) == []


# --- login CSRF ---------------------------------------------------------------------------------


def _post_with(client: Any, admin: dict[str, Any], case: str) -> Any:
    token = form_token(client.get(LOGIN))
    form = {"email": admin["user"]["email"], "password": DEFAULT_PASSWORD, "csrf_token": token}
    headers: dict[str, str] = {}
    if case == "missing field":
        del form["csrf_token"]
    elif case == "wrong token":
        form["csrf_token"] = token[:-4] + "AAAA"
    elif case == "no cookie":  # a cross-site form: SameSite=Strict keeps the cookie home
        client.delete_cookie(CSRF_COOKIE, path="/admin")
    elif case == "foreign origin":
        headers["Origin"] = "https://attacker.example"
    elif case == "null origin":
        headers["Origin"] = "null"
    elif case == "cross-site fetch":
        headers["Sec-Fetch-Site"] = "cross-site"
    return client.post(LOGIN, data=form, headers=headers)


@pytest.mark.parametrize("case", ["missing field", "wrong token", "no cookie", "foreign origin",
                                  "null origin", "cross-site fetch"])
def test_a_cross_site_login_post_is_refused_and_creates_no_session(
        client: Any, admin: dict[str, Any], redis: Any, case: str) -> None:
    response = _post_with(client, admin, case)
    assert response.status_code == 403, case
    assert "another site" in response.get_data(as_text=True)
    set_cookies = " ".join(response.headers.getlist("Set-Cookie"))
    assert "session=" not in set_cookies and "admin-pass=" not in set_cookies
    assert session_keys(redis) == []
    assert client.get(CONSOLE).status_code in (302, 303)
    assert client.get("/api/v1/auth/me").status_code == 401


def test_the_same_post_from_the_sites_own_page_is_accepted(
        client: Any, admin: dict[str, Any]) -> None:
    response = login_form(client, admin["user"]["email"], Origin="http://localhost",
                          **{"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 303


def test_form_posts_are_exempt_from_415_only_in_the_console(client: Any) -> None:
    api = client.post("/api/v1/auth/login", data={"email": "a@example.com", "password": "x"})
    assert api.status_code == 415 and api.json["code"] == "unsupported_media_type"
    assert client.post(LOGIN, data={"email": "a@example.com"}).status_code == 403


# --- limits -------------------------------------------------------------------------------------


def test_failed_form_logins_count_against_the_api_logins_account_limit(
        make_app: Any, db: Any, redis: Any) -> None:
    app = make_app(LOGIN_FAILURE_LIMIT="2 per 15 minutes", AUTH_RATE_LIMIT="100 per hour")
    admin = AuthActions(app).register("admin")
    email = admin["user"]["email"]
    browser = app.test_client()
    for _ in range(2):
        assert login_form(browser, email, "wrong-password-1").status_code == 401
    refused = login_form(browser, email)  # even the right password: no attempt left
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert int(refused.headers["Retry-After"]) >= 1
    assert "Too many attempts" in refused.get_data(as_text=True)
    api = app.test_client().post("/api/v1/auth/login", json={
        "email": email, "password": DEFAULT_PASSWORD}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert api.status_code == 429  # one counter for the account, whichever door
    assert session_keys(redis) == []


def test_form_logins_count_against_the_auth_limit_per_address(
        make_app: Any, db: Any, redis: Any) -> None:
    app = make_app(AUTH_RATE_LIMIT="3 per 15 minutes")
    admin = AuthActions(app).register("admin")
    browser = app.test_client()
    statuses = [login_form(browser, admin["user"]["email"], "wrong-password-1").status_code
                for _ in range(3)]
    assert statuses == [401, 401, 401]
    assert login_form(browser, admin["user"]["email"]).status_code == 429
    api = app.test_client().post("/api/v1/auth/login", json={
        "email": admin["user"]["email"], "password": DEFAULT_PASSWORD})
    assert api.status_code == 429  # the same address, the same AUTH counter


# --- logout and the console pass ----------------------------------------------------------------


def test_logout_needs_the_token_then_ends_the_session_and_revokes_the_pass(
        client: Any, app: Any, admin: dict[str, Any], redis: Any) -> None:
    assert login_form(client, admin["user"]["email"]).status_code == 303
    console_pass = cookie(client, "admin-pass")
    assert console_pass and len(session_keys(redis)) == 1

    forged = client.post(LOGOUT, data={"csrf_token": "x" * 43})
    assert forged.status_code == 403 and len(session_keys(redis)) == 1
    assert client.get(CONSOLE).status_code == 200  # still signed in

    token = form_token(client.get(CONSOLE))
    response = client.post(LOGOUT, data={"csrf_token": token})
    assert response.status_code == 303 and "signed_out" in response.headers["Location"]
    assert session_keys(redis) == []
    assert cookie(client, "admin-pass") is None
    assert client.get(CONSOLE).status_code in (302, 303)
    assert "You are signed out." in client.get(response.headers["Location"]).get_data(
        as_text=True)

    replay = app.test_client()  # someone who copied the pass before the logout
    replay.set_cookie("admin-pass", console_pass, path="/admin")
    assert replay.get(CONSOLE).status_code in (302, 303)
    assert replay.get(DATA).status_code == 401


def test_the_pass_keeps_the_console_open_when_redis_lost_every_session(
        client: Any, app: Any, admin: dict[str, Any], redis: Any) -> None:
    assert login_form(client, admin["user"]["email"]).status_code == 303
    redis.flushdb()  # a free Key Value restart: every session gone
    assert client.get("/api/v1/auth/me").status_code == 401
    assert client.get(CONSOLE).status_code == 200
    assert client.get(DATA).json["success"] is True

    tampered = app.test_client()
    value = cookie(client, "admin-pass")
    tampered.set_cookie("admin-pass", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"),
                        path="/admin")
    assert tampered.get(CONSOLE).status_code in (302, 303)


def test_a_password_change_ends_the_pass(client: Any, app: Any, admin: dict[str, Any],
                                         redis: Any) -> None:
    assert login_form(client, admin["user"]["email"]).status_code == 303
    redis.flushdb()
    with app.app_context():
        from marketplace.auth import users

        users.change_password(admin["user"]["id"], "another-password-2")
    assert client.get(CONSOLE).status_code in (302, 303)


# --- what every page sends ---------------------------------------------------------------------


class _PageCheck(HTMLParser):
    """Collects what a strict CSP would block: inline scripts, handlers, style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str | None] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            self.scripts.append(names.get("src"))
            self._in_script = True
        if tag == "style":
            self.inline.append("<style>")
        for name, _value in attrs:
            if name.startswith("on") or name == "style":
                self.inline.append(f"{tag} {name}")
            if name in ("href", "src", "action") and (_value or "").startswith("javascript:"):
                self.inline.append(f"{tag} {name}=javascript:")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("script body")


def _pages(app: Any, auth: AuthActions, admin: dict[str, Any]) -> dict[str, Any]:
    """One response of each kind of page the console renders."""
    pages = {"login": app.test_client().get(LOGIN)}
    wrong = app.test_client()
    pages["login refused"] = login_form(wrong, admin["user"]["email"], "wrong-password-1")
    pages["cross-site refusal"] = app.test_client().post(LOGIN, data={"email": "x"})
    client_user = auth.register("client")
    other = app.test_client()
    other.post("/api/v1/auth/login", json={"email": client_user["user"]["email"],
                                          "password": DEFAULT_PASSWORD})
    pages["forbidden"] = other.get(CONSOLE)
    signed_in = app.test_client()
    login_form(signed_in, admin["user"]["email"])
    pages["console"] = signed_in.get(CONSOLE)
    pages["error"] = signed_in.post(LOGOUT, data={"csrf_token": "nope"})
    pages["signed out"] = app.test_client().get(LOGIN + "?signed_out=1")
    return pages


def test_every_page_sends_a_strict_csp_and_has_no_inline_script(
        app: Any, auth: AuthActions, admin: dict[str, Any]) -> None:
    pages = _pages(app, auth, admin)
    assert {name: p.status_code for name, p in pages.items()} == {
        "login": 200, "login refused": 401, "cross-site refusal": 403, "forbidden": 403,
        "console": 200, "error": 403, "signed out": 200}
    for name, page in pages.items():
        assert page.mimetype == "text/html", name
        policy = dict(part.strip().split(" ", 1) for part in
                      page.headers["Content-Security-Policy"].split(";"))
        assert policy["script-src"] == "'self'" and policy["default-src"] == "'self'", name
        assert policy["frame-ancestors"] == "'none'" and policy["form-action"] == "'self'", name
        assert policy["style-src"] == "'self'" and policy["object-src"] == "'none'", name
        assert "unsafe-inline" not in page.headers["Content-Security-Policy"], name
        assert "unsafe-eval" not in page.headers["Content-Security-Policy"], name
        assert page.headers["Cache-Control"] == "no-store", name
        assert page.headers["X-Frame-Options"] == "DENY", name
        check = _PageCheck()
        check.feed(page.get_data(as_text=True))
        assert check.inline == [], (name, check.inline)
        assert all(src and src.startswith("/admin/assets/") for src in check.scripts), name
    console = _PageCheck()
    console.feed(pages["console"].get_data(as_text=True))
    assert len(console.scripts) == 1  # the console's one script file


def test_assets_are_versioned_by_content_and_cached_for_a_year(
        client: Any, admin: dict[str, Any]) -> None:
    login_form(client, admin["user"]["email"])
    html = client.get(CONSOLE).get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="(/admin/assets/[^"]+)"', html)
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    assert {url.rsplit(".", 1)[1] for url in urls} == {"js", "css", "svg"}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == types["." + url.rsplit(".", 1)[1]]
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        digest, name = url.split("/")[-2:]
        assert hashlib.sha256(response.data).hexdigest()[:16] == digest, name
        stale = client.get(f"/admin/assets/{'0' * 16}/{name}")
        assert stale.status_code == 404
    assert client.get("/admin/assets/0000000000000000/nothing.js").status_code == 404
    assert client.get("/admin/assets/x/../../config.py").status_code == 404


# --- the data endpoint -------------------------------------------------------------------------


def test_the_data_endpoint_sends_every_figure_in_the_envelope(
        make_app: Any, db: Any, private_redis: Any) -> None:
    app = make_app(REDIS_URL=private_redis.url, REDIS_MAX_CONNECTIONS=6, WEB_CONCURRENCY=2,
                   REDIS_MEMORY_LIMIT=30_000_000, DB_POOL_MAX=4)
    admin = AuthActions(app).register("admin")
    browser = app.test_client()
    login_form(browser, admin["user"]["email"])
    response = browser.get(DATA)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["success"] is True
    assert set(body) == {"success", "generated_at", "worker_pid", "refresh_seconds", "redis",
                         "counters", "alerts", "postgres", "pools", "history"}
    assert body["generated_at"].endswith("Z") and body["refresh_seconds"] == 3
    redis = body["redis"]
    assert redis["up"] is True and redis["down_since"] is None
    assert isinstance(redis["outages_seen"], int)
    server = redis_lib.Redis.from_url(private_redis.url)
    used = server.info("memory")["used_memory"]
    memory = redis["memory"]
    assert abs(memory["used_bytes"] - used) < 2_000_000
    assert memory["limit_bytes"] == 30_000_000 and memory["limit_source"] == "REDIS_MEMORY_LIMIT"
    assert redis["clients"]["budget_per_instance"] == 6 and redis["clients"]["service"] >= 1
    assert sum(redis["keys"]["by_prefix"].values()) == redis["keys"]["total"]
    assert redis["keys"]["by_prefix"]["session:"] == 1
    assert all(isinstance(redis[n], int) for n in ("ops_per_sec", "evicted_keys",
                                                    "expired_keys", "uptime_seconds"))
    assert set(body["counters"]) == {"cache_hits", "cache_misses", "cache_not_stored",
                                     "rate_limited", "redis_errors"}
    assert body["alerts"] == []
    postgres = body["postgres"]
    assert postgres["up"] is True and postgres["latency_ms"] > 0 and postgres["error"] is None
    assert postgres["counts"]["users"] == 1 and set(postgres["counts"]["projects"]) == {
        "open", "in_progress", "completed", "cancelled"}
    assert body["pools"]["redis"] == {"in_use": 0, "size": 3}
    assert body["pools"]["postgres"] == {"in_use": 0, "size": 4}
    assert body["history"] == {"window_seconds": 3600, "interval_seconds": 0, "points": []}

    server.config_set("maxmemory", 50_000_000)
    memory = browser.get(DATA).json["redis"]["memory"]
    assert memory["limit_bytes"] == 50_000_000 and memory["limit_source"] == "maxmemory"
    server.close()


def test_with_redis_down_the_console_still_loads_and_says_so(
        make_app: Any, db: Any, private_redis: Any) -> None:
    app = make_app(REDIS_URL=private_redis.url)
    admin = AuthActions(app).register("admin")
    browser = app.test_client()
    assert login_form(browser, admin["user"]["email"]).status_code == 303
    private_redis.stop()
    started = time.time()
    assert browser.get(CONSOLE).status_code == 200  # the session is gone with Redis: the pass
    body = browser.get(DATA).json
    assert body["success"] is True
    redis = body["redis"]
    assert redis["up"] is False and redis["outages_seen"] >= 1
    down_since = redis["down_since"]
    assert down_since is not None and down_since.endswith("Z")
    assert abs(datetime.fromisoformat(down_since).timestamp() - started) < 30
    assert redis["memory"] is None and redis["keys"] is None and redis["clients"] is None
    assert body["counters"] is None and body["alerts"] is None and body["history"] is None
    assert body["postgres"]["up"] is True and body["postgres"]["counts"]["users"] == 1
    assert body["pools"]["postgres"]["in_use"] == 0
    private_redis.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if browser.get(DATA).json["redis"]["up"]:
            break
        time.sleep(0.3)
    else:
        pytest.fail("the console never saw Redis back")


# --- the history -------------------------------------------------------------------------------


def _sample(n: int) -> dict[str, Any]:
    return {"t": 1_000_000.0 + 60 * n, "used_memory": 1000 + n, "commands": 10 * n,
            "hits": n, "misses": n, "evicted": 0}


def test_the_history_stays_bounded_in_length_and_lifetime(app: Any, redis: Any) -> None:
    with app.app_context():
        for n in range(keys.HISTORY_LENGTH + 40):
            assert monitoring.record_sample(_sample(n)) is True
    assert redis.llen(keys.HISTORY) == keys.HISTORY_LENGTH
    assert 0 < redis.ttl(keys.HISTORY) <= keys.HISTORY_TTL
    oldest, newest = (orjson.loads(redis.lindex(keys.HISTORY, i)) for i in (0, -1))
    assert oldest == _sample(40) and newest == _sample(keys.HISTORY_LENGTH + 39)
    redis.rpush(keys.HISTORY, b"not json", b'"a string"')
    with app.app_context():
        assert len(monitoring.read_history()) == keys.HISTORY_LENGTH


def test_one_sample_per_interval_whatever_the_number_of_processes(
        make_app: Any, db: Any, redis: Any) -> None:
    instances = [make_app(ALERT_CHECK_INTERVAL=60) for _ in range(3)]
    for instance in instances:
        with instance.app_context():
            monitoring.check_thresholds()
    assert redis.llen(keys.HISTORY) == 1
    assert 50_000 < redis.pttl(keys.HISTORY_CLAIM) <= 54_000  # 0.9 of the interval
    sample = orjson.loads(redis.lindex(keys.HISTORY, 0))
    assert set(sample) == {"t", "used_memory", "commands", "hits", "misses", "evicted"}
    assert sample["used_memory"] > 0 and abs(sample["t"] - time.time()) < 30
    redis.delete(keys.HISTORY_CLAIM)  # the interval is over
    with instances[1].app_context():
        monitoring.check_thresholds()
    assert redis.llen(keys.HISTORY) == 2


def test_the_periodic_check_after_requests_takes_the_samples(
        make_app: Any, db: Any, redis: Any) -> None:
    app = make_app(ALERT_CHECK_INTERVAL=3600)
    client = app.test_client()
    for _ in range(3):
        assert client.get("/api/v1/health").status_code == 200
    assert redis.llen(keys.HISTORY) == 1
    assert 0 < redis.ttl(keys.HISTORY) <= keys.HISTORY_TTL
    assert redis.ttl(keys.HISTORY_CLAIM) > 0


def test_history_points_are_rates_between_samples_of_the_last_hour() -> None:
    now = 10_000.0
    samples = [
        {"t": now - 4000, "used_memory": 1, "commands": 0, "hits": 0, "misses": 0},  # too old
        {"t": now - 120, "used_memory": 5_000_000, "commands": 1000, "hits": 10, "misses": 10},
        {"t": now - 60, "used_memory": 6_000_000, "commands": 7000, "hits": 40, "misses": 20},
        {"t": now - 30, "used_memory": 1_000_000, "commands": 10, "hits": 0, "misses": 0},
        {"t": now, "used_memory": 1_100_000, "commands": 310, "hits": 0, "misses": 0},
    ]
    points = figures.history_points(list(reversed(samples)), now)
    assert [p["t"] for p in points] == [now - 120, now - 60, now - 30, now]
    assert points[0]["memory_bytes"] == 5_000_000
    assert points[0]["ops_per_sec"] is not None  # from the older sample outside the window
    assert points[1] == {"t": now - 60, "memory_bytes": 6_000_000, "ops_per_sec": 100.0,
                         "hit_ratio": 0.75}
    assert points[2]["ops_per_sec"] is None and points[2]["hit_ratio"] is None  # a restart
    assert points[3]["ops_per_sec"] == 10.0 and points[3]["hit_ratio"] is None  # no lookups


# --- the PostgreSQL pool's count ----------------------------------------------------------------


def test_the_postgres_pool_counts_its_connections_in_use(app: Any) -> None:
    with app.app_context():
        pool = app.extensions["database"]
        assert pool.in_use() == 0
        with pool.connection():
            assert pool.in_use() == 1
            with pool.transaction(readonly=True) as cur:
                cur.execute("SELECT 1")
                assert pool.in_use() == 2
        assert pool.in_use() == 0
        with pytest.raises(ZeroDivisionError):
            with pool.connection():
                raise ZeroDivisionError
        assert pool.in_use() == 0
