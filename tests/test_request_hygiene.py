"""Errors in the contract's envelope, request ids, security headers, body limits."""
import pytest

from scripts.processes import GunicornService, http
from tests.helpers import raw_request, service_env


def assert_error(response, status, code):
    assert response.status_code == status
    body = response.get_json()
    assert body["success"] is False and body["code"] == code and body["error"]
    assert response.headers["Content-Type"].startswith("application/json")


def test_unknown_route_is_json_404(client):
    assert_error(client.get("/api/v1/nope"), 404, "not_found")
    assert_error(client.get("/"), 404, "not_found")


def test_wrong_method_is_json_405(client):
    response = client.delete("/api/v1/health")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_400(client):
    response = client.post("/api/v1/auth/register", data=b'{"email": ',
                           content_type="application/json")
    assert_error(response, 400, "invalid_json")


@pytest.mark.parametrize("payload", [b"[1, 2]", b'"text"', b"null", b"42"])
def test_json_that_is_not_an_object_is_400(client, payload):
    response = client.post("/api/v1/auth/register", data=payload, content_type="application/json")
    assert_error(response, 400, "invalid_json")


def test_form_body_is_415(client):
    response = client.post("/api/v1/auth/register", data={"email": "a@b.c"})
    assert_error(response, 415, "unsupported_media_type")


def test_two_mib_body_is_413(client):
    response = client.post("/api/v1/auth/register", data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                           content_type="application/json")
    assert_error(response, 413, "payload_too_large")


def test_unexpected_exception_is_500_without_details(app, client, caplog):
    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internals")

    response = client.get("/api/v1/boom", headers={"X-Request-ID": "trace-123"})
    assert_error(response, 500, "internal_error")
    assert b"secret internals" not in response.data
    assert response.headers["X-Request-ID"] == "trace-123"
    assert any("trace-123" in r.getMessage() for r in caplog.records)


def test_request_id_is_echoed_when_safe_and_generated_otherwise(client):
    assert client.get("/api/v1/health", headers={"X-Request-ID": "abc-123"}).headers[
        "X-Request-ID"] == "abc-123"
    for bad in ["has space", "x" * 129, "semi;colon", "<script>"]:
        got = client.get("/api/v1/health", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert got != bad and len(got) == 32


def test_security_headers(client, make_app):
    response = client.get("/api/v1/health")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response.headers
    production = make_app(APP_ENV="production").test_client()
    assert "max-age" in production.get("/api/v1/health").headers["Strict-Transport-Security"]


def test_one_log_line_per_request(client, log_stream):
    client.get("/api/v1/health", headers={"X-Request-ID": "line-1"})
    lines = [line.partition("marketplace.request: ")[2]
             for line in log_stream.getvalue().splitlines() if "marketplace.request" in line]
    assert len(lines) == 1
    request_id, method, path, status, duration = lines[0].split()
    assert (request_id, method, path, status) == ("line-1", "GET", "/api/v1/health", "200")
    assert duration.endswith("ms")


def test_chunked_body_over_the_limit_is_413_under_gunicorn(database_url, redis_url, tmp_path,
                                                           db, redis):
    env = service_env(database_url, redis_url, MAX_CONTENT_LENGTH="1024")
    with GunicornService(env, tmp_path, workers=1) as service:
        chunk = b'{"email": "' + b"a" * 4000 + b'"}'
        request = (
            b"POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n"
            + f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n0\r\n\r\n"
        )
        reply = raw_request(service.port, request)
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        assert b'"payload_too_large"' in reply
        assert http("GET", service.url + "/api/v1/health").status == 200


def test_options_answers_allow_without_a_non_json_body(client):
    response = client.options("/api/v1/projects")
    assert response.status_code == 204 and response.data == b""
    assert {"GET", "POST"} <= set(response.headers["Allow"].replace(" ", "").split(","))
