"""gunicorn settings: bind from PORT, workers from WEB_CONCURRENCY, worker class by measurement."""
import os

from config import development_secrets

bind = f"0.0.0.0:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Measured on the cached GET /projects path (bench/results.md, worker-class table): gthread
# is within the run-to-run spread of sync with a worse p99, gevent starves connections
# (p99 over a second), four sync workers are slower than two on two CPUs; so sync. gthread
# is used when GUNICORN_CMD_ARGS adds --threads. The Redis budget is split per process.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
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
