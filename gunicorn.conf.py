"""gunicorn settings: bind from PORT, workers from WEB_CONCURRENCY, worker class by measurement."""
import os
import shutil
import tempfile

from config import development_secrets

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Chosen by measurement on the cached reads (bench/results.md, worker-class table, two workers
# on two CPUs): gevent yielding after each request serves 1.5x to 1.65x what the sync
# worker does, at a p99 of 17-26 ms, with connections kept alive; gunicorn's own gevent
# worker serves as much or more at the median but starves connections (p99 over 100 ms);
# gthread (--threads 4, keep-alive) sits between them; four gevent workers on two CPUs
# measure within the noise of two, for twice the memory and half the Redis budget each.
# So marketplace.adapters.gunicorn.GeventWorker: gevent, the process made cooperative
# (marketplace/cooperative.py), yielding after each request. Each worker serves up to
# worker_connections at once; the PostgreSQL and Redis pools bound what they use, and
# writes go one at a time per worker (marketplace/writes.py).
# GUNICORN_WORKER_CLASS=marketplace.adapters.gunicorn.SyncWorker runs the sync worker, and
# GUNICORN_WORKER_CLASS=gthread with GUNICORN_CMD_ARGS=--threads N the threaded one; the
# Redis budget is split per process either way.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "marketplace.adapters.gunicorn.GeventWorker")
worker_connections = 1000
timeout = 30
graceful_timeout = 10
# An idle kept-alive connection is closed after this many seconds, and a request's headers
# must arrive within it. Longer than the idle timeout of the proxies in front (60 s is
# common), so that the proxy, not the worker, closes an idle connection: a worker closing
# it first can race a request the proxy is sending on it, which then fails as a 502.
keepalive = 75
accesslog = None  # the app logs one line per request itself
errorlog = "-"
# Workers import the app after the fork, so each builds its own Redis and PostgreSQL pools.
preload_app = False
# gunicorn's control socket (for `gunicornc`) is one path per user, shared by every instance
# on a machine; nothing here uses it.
control_socket_disable = True

# Outside production: signing keys generated once per start, inherited by every worker.
development_secrets(os.environ)

# Prometheus counts in multiprocess mode: one directory per instance, empty at every start,
# where each worker writes its figures and from which a scrape sums them (marketplace/
# prometheus.py). A worker that exits leaves its counters; its gauges stop counting.
_OWN_METRICS_DIR = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _OWN_METRICS_DIR:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="marketplace-metrics-")
_METRICS_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"]


def on_starting(server: object) -> None:
    for name in os.listdir(_METRICS_DIR):
        os.unlink(os.path.join(_METRICS_DIR, name))


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    if _OWN_METRICS_DIR:
        shutil.rmtree(_METRICS_DIR, ignore_errors=True)
