"""The access line: one per request, in the format of every other line (text or JSON), with
the request id, method, route template, status, duration and the caller when known."""
from __future__ import annotations

import io
import json
import logging
import re
import uuid
from typing import Any

from tests.plugins.auth import AuthActions

LIST = "/api/v1/projects"


def _lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if line]


def test_text_access_line_reads_like_every_other_line(make_app: Any, db: Any, redis: Any,
                                                      log_stream: io.StringIO) -> None:
    app = make_app(LOG_FORMAT="text", LOG_LEVEL="INFO")
    client = app.test_client()
    assert client.get(LIST, headers={"X-Request-ID": "trace-text-1"}).status_code == 200
    logging.getLogger("marketplace.check").info("a line through logging")
    access, other = _lines(log_stream)[-2:]
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO \[\d+\] "
    assert re.fullmatch(stamp + r"marketplace\.request: trace-text-1 GET /api/v1/projects "
                        r"200 \d+\.\dms", access), access
    assert re.fullmatch(stamp + "marketplace.check: a line through logging", other), other


def test_json_access_line_has_the_request_fields_and_the_caller(
        make_app: Any, db: Any, redis: Any, log_stream: io.StringIO) -> None:
    app = make_app(LOG_FORMAT="json", LOG_LEVEL="INFO")
    user = AuthActions(app).register("client")
    client = app.test_client()
    me = client.get("/api/v1/auth/me", headers={
        "Authorization": f"Bearer {user['access_token']}", "X-Request-ID": "trace-json-1"})
    assert me.status_code == 200
    missing = client.get(f"{LIST}/{uuid.uuid4()}", headers={"X-Request-ID": "trace-json-2"})
    assert missing.status_code == 404
    entries = [json.loads(line) for line in _lines(log_stream)]
    by_id = {e["request_id"]: e for e in entries if e["logger"] == "marketplace.request"}
    first, second = by_id["trace-json-1"], by_id["trace-json-2"]
    assert set(first) == {"time", "level", "logger", "message", "request_id", "method",
                          "route", "status", "duration_ms", "user_id"}
    assert first["user_id"] == user["user"]["id"] and first["route"] == "/api/v1/auth/me"
    assert first["level"] == "INFO" and first["status"] == 200
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"])
    assert first["message"] == f"trace-json-1 GET /api/v1/auth/me 200 {first['duration_ms']}ms"
    assert "user_id" not in second
    assert second["status"] == 404 and second["route"] == "/api/v1/projects/<uuid:project_id>"


def test_no_access_line_below_its_level(make_app: Any, db: Any, redis: Any,
                                        log_stream: io.StringIO) -> None:
    app = make_app(LOG_FORMAT="json", LOG_LEVEL="WARNING")
    assert app.test_client().get(LIST).status_code == 200
    assert not [line for line in _lines(log_stream) if "marketplace.request" in line]


def test_line_times_are_isoformats_milliseconds_though_formatted_once_per_second() -> None:
    """The access line's clock formats the date once per second; each stamp must still be
    what `datetime.isoformat(timespec="milliseconds")` writes, rounding carries included."""
    import random
    from datetime import UTC, datetime

    from marketplace.logs import _iso_millis

    start = 1_764_590_400.0
    stamps = [start, start + 0.0005, start + 0.004, start + 0.9994999, start + 0.9999996,
              start + 1.5, start - 3600.25]
    stamps += [start + i / 1000 for i in range(3000)]  # crossing seconds, in order
    spread = random.Random(7)  # the same stamps every run
    stamps += [spread.uniform(0, 4e9) for _ in range(5000)]
    for stamp in stamps:
        expected = datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")
        assert _iso_millis(stamp) == expected.replace("+00:00", "Z"), stamp
