"""Python function calls per request, counted in process with cProfile.

Deterministic where wall-clock figures on a shared 2-CPU machine are not: the same code
path makes the same calls whatever else the machine is doing. Every request gets a fresh
WSGI environ (built before profiling starts) and goes straight to the app, with no server
and no test client in between; after a warm-up, N requests are profiled and every call of
every function (`ncalls`, recursion and builtins included) is summed and divided by N.
"""
from __future__ import annotations

import cProfile
import pstats
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.test import EnvironBuilder

from bench.wrk import Request

WARMUP = 20


@dataclass
class CallCount:
    requests: int = 0
    calls: int = 0
    statuses: Counter[str] = field(default_factory=Counter)  # of the profiled requests

    @property
    def per_request(self) -> float:
        return self.calls / self.requests if self.requests else 0.0


def environ_for(request: Request, headers: dict[str, str]) -> dict[str, Any]:
    return EnvironBuilder(path=request.path, method=request.method, headers=headers,
                          data=request.body, environ_base={"REMOTE_ADDR": "127.0.0.1"},
                          ).get_environ()


def warmed_up(app: Callable[..., Any], requests: list[Request], headers: dict[str, str],
              n: int, warmup: int, start_response: Callable[..., Any]) -> list[dict[str, Any]]:
    """Fresh environs for `warmup + n` requests cycling through `requests`: the first
    `warmup` are sent now, unmeasured; the other `n` are returned for the measurement."""
    environs = [environ_for(requests[i % len(requests)], headers) for i in range(warmup + n)]
    for environ in environs[:warmup]:
        b"".join(app(environ, start_response))
    return environs[warmup:]


def count_calls(app: Callable[..., Any], requests: list[Request], headers: dict[str, str],
                n: int = 300, warmup: int = WARMUP) -> CallCount:
    """Profile `n` requests (cycling through `requests` after `warmup` unprofiled ones)."""
    seen = [""] * (warmup + n)
    slot = [0]

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> None:
        """Stores the status without calling anything: only the request's calls count."""
        seen[slot[0]] = status
        slot[0] += 1

    measured = warmed_up(app, requests, headers, n, warmup, start_response)
    profile = cProfile.Profile()
    profile.enable()
    for environ in measured:
        b"".join(app(environ, start_response))
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(nc for (_cc, nc, _tt, _ct, _callers) in stats.values())
    return CallCount(requests=n, calls=total,
                     statuses=Counter(status.split()[0] for status in seen[warmup:]))
