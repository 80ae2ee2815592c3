"""Python calls of one cached read, part by part: which module makes them.

`count_calls` (cProfile) gives the total per request; this splits the same calls by the part
of the request they happen in. A `sys.setprofile` hook sees every call (Python functions and
builtins, as cProfile counts them) and charges it to the innermost entry point below that is
running; calls outside every entry point are the server-facing rest (the WSGI entry, Flask
when it runs).
"""
from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.calls import WARMUP, warmed_up
from bench.wrk import Request

# (file, function) that starts a part -> the part's name, in the order a cached read runs them.
PARTS: dict[tuple[str, str], str] = {
    ("front.py", "__call__"): "the front: is this a known anonymous read?",
    ("http.py", "request_id_of"): "request id",
    ("front.py", "_read"): "the front's read: keys and client",
    ("rate_limits.py", "count_and_read"): "the count: counter keys, commands, replies",
    ("redis.py", "round_trip"): "the round trip (`redis.py`, redis-py, hiredis)",
    ("response_cache.py", "fresh"): "freshness (`response_cache.py`, `generations.py`)",
    ("response_cache.py", "validator"): "ETag, 304, cache headers",
    ("metrics.py", "incr_all"): "service counters (`metrics.py`)",
    ("prometheus.py", "observe_request"): "Prometheus counters and histogram",
    ("logs.py", "write"): "access line (`logs.AccessLog`)",
}
REST = "the rest: WSGI entry, Flask when it runs"


def count_parts(app: Callable[..., Any], request: Request, headers: dict[str, str],
                n: int = 100) -> dict[str, float]:
    """Calls per request of each part, over `n` requests after a warm-up."""
    counts: Counter[str] = Counter()
    stack: list[str] = []

    def hook(frame: Any, event: str, _arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            part = PARTS.get((os.path.basename(code.co_filename), code.co_name))
            stack.append(part or (stack[-1] if stack else REST))
            counts[stack[-1]] += 1
        elif event == "return":
            if stack:
                stack.pop()
        elif event == "c_call":
            counts[stack[-1] if stack else REST] += 1

    def start_response(*_args: Any) -> None:
        return None

    for environ in warmed_up(app, [request], headers, n, WARMUP, start_response):
        sys.setprofile(hook)
        b"".join(app(environ, start_response))
        sys.setprofile(None)  # seen by the hook as one call of the rest: taken off below
        stack.clear()
    counts[REST] -= n
    order = [*PARTS.values(), REST]
    return {part: counts[part] / n for part in order if counts[part]}
