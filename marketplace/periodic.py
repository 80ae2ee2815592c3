"""Work the service does by itself now and then, on the way out of a request.

Render's free web services have no cron job and no shell, and a sleeping instance needs no
upkeep, so there is no thread and no scheduler: after a response is built, `tick` compares
the clock with the next due time (one comparison on almost every request) and runs the jobs
that are due. Each job is bounded (a socket timeout, a statement timeout, a batch size) and
never raises: a job that fails is logged and tried again at its next time.

The jobs (registered in `register_jobs`): the service's counters flushed to Redis and its
Prometheus gauges sampled, the Redis thresholds checked (and the console's history
sampled), expired revoked tokens trimmed. The last two are off when ALERT_CHECK_INTERVAL
is 0 (the tests' default).
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

log = logging.getLogger(__name__)

TRIM_INTERVAL = 3600  # seconds between two trims of expired revoked tokens, per process


@dataclass
class Job:
    name: str
    interval: float
    run: Callable[[], None]
    due: float = -math.inf  # a fresh process runs every job at its first request


class Periodic:
    """The jobs of one app, run after responses when due."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self._next_due = math.inf
        self._lock = threading.Lock()

    def every(self, name: str, seconds: float, run: Callable[[], None]) -> None:
        self.jobs[name] = Job(name, seconds, run)
        self._next_due = -math.inf

    def make_due(self, name: str) -> None:
        """Run `name` after the next response (tests, and a job that must run again)."""
        with self._lock:
            self.jobs[name].due = -math.inf
            self._next_due = -math.inf

    @property
    def due(self) -> bool:
        """Whether a job is due: the next response should run `tick` (the front leaves such a
        request to Flask, whose app context the jobs run in)."""
        return time.monotonic() >= self._next_due

    def tick(self) -> None:
        now = time.monotonic()
        if now < self._next_due:
            return
        with self._lock:  # one thread per process picks the due jobs; others go on
            due = [job for job in self.jobs.values() if job.due <= now]
            for job in due:
                job.due = now + job.interval
            self._next_due = min((job.due for job in self.jobs.values()), default=math.inf)
        for job in due:
            try:
                job.run()
            except Exception:  # a job's failure must never reach the response
                log.exception("periodic job %s failed", job.name)


def register_jobs(app: Flask) -> Periodic:
    from marketplace import metrics
    from marketplace.auth import revocation
    from marketplace.health import monitoring

    periodic = Periodic()
    periodic.every("counters", metrics.FLUSH_INTERVAL, metrics.flush)
    gauges = app.extensions["prometheus"]
    periodic.every("gauges", metrics.FLUSH_INTERVAL, lambda: gauges.sample(app))
    interval = app.config["ALERT_CHECK_INTERVAL"]
    if interval:
        periodic.every("redis-check", interval, monitoring.periodic_check)
        periodic.every("trim", TRIM_INTERVAL, revocation.periodic_trim)
    app.extensions["periodic"] = periodic
    return periodic
