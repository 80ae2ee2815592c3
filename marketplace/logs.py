"""Log lines: one per record, text for people or JSON for log search, each with its request id.

`LOG_FORMAT=json` (production's default) writes one JSON object per line with `time`,
`level`, `logger`, `message` and `request_id` for every record emitted while a request is
handled (the service's, the libraries', gunicorn's error log alike); the access line of a
request (`marketplace.request`) adds `method`, `route`, `status`, `duration_ms` and, when the
caller authenticated, `user_id`. `LOG_FORMAT=text` (development) writes the same as one
readable line. It is the standard `logging` machinery: a filter that stamps the request id
(from a context variable set by `http.begin_request`) and a formatter.
"""
from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

import orjson
from flask import Flask

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Stamps every record with the id of the request being handled (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record; the access line's request fields when it has them."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        fields = getattr(record, "request", None)  # the access line's (http.finish_request)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


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
    root.setLevel(level)
    logging.getLogger("marketplace").setLevel(level)
    app.logger.setLevel(level)
