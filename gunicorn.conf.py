"""gunicorn settings: bind from PORT, workers from WEB_CONCURRENCY, worker class by measurement."""
import os
import shutil
import tempfile

from config import development_secrets

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Measured on the cached GET /projects path (bench/results.md, worker-class table, two
# workers on two CPUs): sync has steady rounds and a p99 of 13-16 ms; gthread (--threads 4,
# keep-alive) gains 4-17 % at the median with up to twice the p99, and some of its rounds
# collapse (kept-alive connections stay with the worker that accepted them); gunicorn's
# gevent worker is faster still but starves connections (p99 in the hundreds of ms), and
# gevent yielding after each request, fast at a p99 under 20 ms, needs psycopg2 made
# cooperative first (bench/notes.md); four sync workers gain 11-24 % on two CPUs for twice
# the memory and half the Redis budget per worker, and nothing on an instance with a
# fraction of one CPU. So sync, as marketplace.adapters.gunicorn.SyncWorker: gunicorn's own,
# without the wait for the client's close after a request it has read to the end (its
# module says why that is safe).
# GUNICORN_CMD_ARGS=--threads N switches to gthread; the Redis budget is split per process.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "marketplace.adapters.gunicorn.SyncWorker")
timeout = 30
graceful_timeout = 10
keepalive = 5
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
