"""Log lines: one per record, text for people or JSON for log search, each with its request id.

`LOG_FORMAT=json` (production's default) writes one JSON object per line with `time`,
`level`, `logger`, `message` and `request_id` for every record emitted while a request is
handled (the service's, the libraries', gunicorn's error log alike); the access line of a
request (`marketplace.request`) adds `method`, `route`, `status`, `duration_ms` and, when the
caller authenticated, `user_id`. `LOG_FORMAT=text` (development) writes the same as one
readable line. Every other record goes through the standard `logging` machinery: a filter
that stamps the request id (from a context variable set by `http.begin_request`) and a
formatter. The access line, written for every request, is formatted here directly and
written to the same stream under the same lock (`AccessLog`): the same line, without the
record, filter and handler calls `logging` makes for each (measured in `bench/results.md`).
"""
from __future__ import annotations

import logging
import os
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson
from flask import Flask

ACCESS_LOGGER = "marketplace.request"
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Stamps every record with the id of the request being handled (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _iso_millis(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


class AccessLog:
    """The access line of each request (logger `marketplace.request`, level INFO), in the
    format of the other lines, written on the root handler's stream."""

    def __init__(self, handler: logging.StreamHandler, json_lines: bool) -> None:
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self.handler = handler
        self.json_lines = json_lines

    def write(self, request_id: str, method: str, route: str, status: int,
              duration_ms: float, user_id: str | None) -> None:
        if not self.logger.isEnabledFor(logging.INFO):
            return
        now = time.time()
        message = f"{request_id} {method} {route} {status} {duration_ms:.1f}ms"
        if self.json_lines:
            entry = {"time": _iso_millis(now), "level": "INFO", "logger": ACCESS_LOGGER,
                     "message": message, "request_id": request_id, "method": method,
                     "route": route, "status": status, "duration_ms": duration_ms}
            if user_id is not None:
                entry["user_id"] = user_id
            line = orjson.dumps(entry).decode()
        else:
            seconds = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
            line = (f"{seconds},{int(now * 1000) % 1000:03d} INFO [{os.getpid()}] "
                    f"{ACCESS_LOGGER}: {message}")  # TEXT_FORMAT's fields
        handler = self.handler
        with handler.lock:  # type: ignore[union-attr]
            handler.stream.write(line + "\n")


_second = (0, "1970-01-01T00:00:00")  # the last whole second formatted, and its text


def _iso_millis(timestamp: float) -> str:
    """`2026-12-01T12:00:00.123Z`, as `datetime.isoformat(timespec="milliseconds")` writes it
    (microseconds rounded as `fromtimestamp` does, then cut), the date and time formatted once
    per second rather than per line."""
    global _second
    whole = int(timestamp)
    micros = round((timestamp - whole) * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    cached, text = _second  # one tuple, replaced whole: threads never see half an update
    if cached != whole:
        text = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second = (whole, text)
    return f"{text}.{micros // 1000:03d}Z"


def configure_logging(app: Flask) -> None:
    """One handler on the root logger for the app, the libraries and gunicorn's error log."""
    cfg = app.config
    level = cfg["LOG_LEVEL"].upper()
    # Fields no line shows are not gathered for every record, as the logging HOWTO's
    # "Optimization" section says: thread and multiprocessing names, and the caller's file
    # and line (`_srcfile = None` is that section's documented switch; no format uses them).
    logging.logThreads = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "marketplace", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.marketplace = True  # type: ignore[attr-defined]
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if cfg["LOG_FORMAT"] == "json"
                         else logging.Formatter(TEXT_FORMAT))
    app.extensions["access_log"] = AccessLog(handler, cfg["LOG_FORMAT"] == "json")
    root.setLevel(level)
    logging.getLogger("marketplace").setLevel(level)
    app.logger.setLevel(level)
