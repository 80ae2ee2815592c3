"""Bounded concurrent load on 127.0.0.1 for fault tests: a thread pool issuing a fixed list of
requests, each with its own timeout, recording status, duration and body of every one."""
from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scripts.processes import http
from tests.helpers import API

CUT = 0  # the status recorded when no HTTP answer came back (timeout, reset, refused)
SKIPPED = -1  # a call never sent because the load was told to stop sending


@dataclass(frozen=True)
class Call:
    """One request to make; `label` groups outcomes in reports (e.g. "list", "login")."""

    method: str
    url: str
    body: Any = None
    headers: dict[str, str] | None = None
    label: str = ""


@dataclass
class Outcome:
    """What one call got back: `status` is CUT when the connection gave no answer."""

    call: Call
    status: int
    seconds: float
    started: float  # time.monotonic() when the request was sent
    body: bytes = b""
    headers: Any = None
    error: str = ""

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class Load:
    """Runs `calls` on `concurrency` threads in the background; join() returns the outcomes."""

    calls: list[Call]
    concurrency: int = 32
    timeout: float = 5.0
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        for call in self.calls:
            assert urlsplit(call.url).hostname == "127.0.0.1", call.url  # local only
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._pool: ThreadPoolExecutor | None = None
        self._futures: list[Any] = []
        self._stopped = threading.Event()

    def stop_sending(self) -> None:
        """Send no further calls; those in flight finish (join() returns only sent calls)."""
        self._stopped.set()

    def _one(self, call: Call) -> None:
        started = time.monotonic()
        if self._stopped.is_set():
            outcome = Outcome(call, SKIPPED, 0.0, started)
        else:
            outcome = self._send(call, started)
        with self._done:
            self.outcomes.append(outcome)
            self._done.notify_all()

    def _send(self, call: Call, started: float) -> Outcome:
        try:
            result = http(call.method, call.url, body=call.body, headers=call.headers,
                          timeout=self.timeout)
            return Outcome(call, result.status, time.monotonic() - started, started,
                           result.body, result.headers)
        except Exception as exc:  # a cut connection is a result here
            return Outcome(call, CUT, time.monotonic() - started, started,
                           error=f"{type(exc).__name__}: {exc}"[:200])

    def start(self) -> Load:
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency,
                                        thread_name_prefix="loadgen")
        self._futures = [self._pool.submit(self._one, call) for call in self.calls]
        return self

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        """Block until at least `count` calls have finished (bounded by `timeout`)."""
        deadline = time.monotonic() + timeout
        with self._done:
            while len(self.outcomes) < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"only {len(self.outcomes)}/{count} calls finished"
                self._done.wait(remaining)

    def join(self, timeout: float = 60.0) -> list[Outcome]:
        """Wait for every call (each is bounded by its own timeout) and return the outcomes."""
        self.wait_for(len(self.calls), timeout)
        assert self._pool is not None
        self._pool.shutdown(wait=True)
        return [o for o in self.outcomes if o.status != SKIPPED]


def run(calls: Iterable[Call], *, concurrency: int = 32, timeout: float = 5.0) -> list[Outcome]:
    """Issue every call and wait for all of them."""
    calls = list(calls)
    return Load(calls, concurrency=concurrency, timeout=timeout).start().join(
        timeout=timeout * len(calls) / max(1, concurrency) + 30)


def statuses(outcomes: Iterable[Outcome], label: str | None = None) -> Counter[int]:
    """How many outcomes got each status (optionally for one label)."""
    return Counter(o.status for o in outcomes if label is None or o.call.label == label)


def server_errors(outcomes: Iterable[Outcome], allowed: dict[str, set[int]] | None = None
                  ) -> list[tuple[str, int, str]]:
    """Every 5xx or cut outcome not allowed for its label: (label, status, body start)."""
    allowed = allowed or {}
    return [(o.call.label, o.status, (o.body[:160] or o.error.encode()).decode(errors="replace"))
            for o in outcomes
            if (o.status >= 500 or o.status == CUT) and o.status not in allowed.get(
                o.call.label, set())]


def slowest(outcomes: Iterable[Outcome]) -> float:
    """The longest request of the run, in seconds."""
    return max((o.seconds for o in outcomes), default=0.0)


# The marketplace workload: the mix of reads, logins and writes the fault tests replay.
# Answers the contract documents as 503 while Redis is down (and only those).
REDIS_DOWN_503 = {"online": {503}, "health-redis": {503}}


def mixed_calls(base: str, *, count: int, users: list[dict[str, Any]], project_ids: list[str],
                tag: str = "load") -> list[Call]:
    """`count` calls cycling list/detail/me/login/create/online/health over the given users.

    `users` are AuthActions.register() results (bearer headers, e-mail, password); creates
    carry unique titles `<tag>-<n>` so a test can find exactly which ones were stored.
    """
    from tests.plugins.auth import DEFAULT_PASSWORD

    calls = []
    for n in range(count):
        user = users[n % len(users)]
        kind = n % 10
        if kind in (0, 1):
            calls.append(Call("GET", f"{base}{API}/projects?per_page={5 + n % 3}", label="list"))
        elif kind in (2, 3):
            pid = project_ids[n % len(project_ids)]
            calls.append(Call("GET", f"{base}{API}/projects/{pid}", label="detail"))
        elif kind in (4, 5):
            calls.append(Call("GET", f"{base}{API}/auth/me", headers=user["headers"], label="me"))
        elif kind == 6:
            calls.append(Call("POST", f"{base}{API}/auth/login", label="login",
                              body={"email": user["user"]["email"], "password": DEFAULT_PASSWORD}))
        elif kind == 7:
            calls.append(Call("POST", f"{base}{API}/projects", headers=user["headers"],
                              label="create", body={"title": f"{tag}-{n}", "budget": 10 + n,
                                                    "description": "made under load"}))
        elif kind == 8:
            calls.append(Call("GET", f"{base}{API}/stats/online", label="online"))
        else:
            calls.append(Call("GET", f"{base}{API}/health/redis", label="health-redis"))
    return calls


def during(outcomes: Iterable[Outcome], start: float, end: float) -> list[Outcome]:
    """The outcomes of requests sent between two time.monotonic() instants."""
    return [o for o in outcomes if start <= o.started <= end]
