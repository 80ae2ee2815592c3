"""Prepare and start the targets: our service, the bare Flask app and, when PEER_DIR names a
checkout of it, the Express peer."""
from __future__ import annotations

import json
import secrets
import shutil
import sys

import psycopg2
import redis

from bench.settings import OUT, ROOT, UNLIMITED, Settings, log
from scripts.processes import (
    GunicornService,
    ServerProcess,
    free_port,
    inherited_environ,
    run_quietly,
)

LOGS = OUT / "logs"
PEER_COPY = OUT / "peer"  # a writable copy of PEER_DIR, with its node_modules


def recreate_database(settings: Settings, name: str) -> None:
    """Drop and create a database the bench owns (never any other)."""
    assert name in (settings.our_db, settings.peer_db), name
    conn = psycopg2.connect(settings.pg_url("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


# The row of the service as deployed in the bench's comparison tables (its worker class is
# gunicorn.conf.py's).
PRODUCTION = "production"


def our_env(settings: Settings, worker_class: str = PRODUCTION) -> dict[str, str]:
    """The production configuration, with the bench's database, Redis db and no rate limits."""
    env = inherited_environ()
    env.update(
        APP_ENV="production",
        LOG_LEVEL="INFO",
        DATABASE_URL=settings.pg_url(settings.our_db),
        REDIS_URL=settings.redis_url(settings.our_redis_db),
        SESSION_SECRET=_secret("session"),
        JWT_SECRET=_secret("jwt"),
        WEB_CONCURRENCY="2",
        AUTH_RATE_LIMIT=UNLIMITED,
        LOGIN_FAILURE_LIMIT=UNLIMITED,
        PROJECTS_RATE_LIMIT=UNLIMITED,
        # The machine's Redis is shared and sets no maxmemory: the cache's memory guard
        # (CACHE_MEMORY_SHARE of REDIS_MEMORY_LIMIT) must not depend on what others store.
        REDIS_MEMORY_LIMIT=str(2**40),
        PYTHONPATH=str(ROOT),
    )
    if worker_class == "gevent-4":
        env.update(WEB_CONCURRENCY="4")
    elif worker_class == "sync":  # the service's sync worker, closing at once
        env.update(GUNICORN_WORKER_CLASS="marketplace.adapters.gunicorn.SyncWorker")
    elif worker_class == "gunicorn-sync":  # gunicorn's own sync worker: it lingers at close
        env.update(GUNICORN_WORKER_CLASS="sync")
    elif worker_class == "gthread":
        env.update(GUNICORN_WORKER_CLASS="gthread", GUNICORN_CMD_ARGS="--threads 4")
    elif worker_class == "gunicorn-gevent":  # gunicorn's own gevent worker, never yielding
        env.update(GUNICORN_WORKER_CLASS="gevent")
    elif worker_class == "gunicorn-access":  # the access line written by gunicorn instead
        env.update(LOG_LEVEL="WARNING", GUNICORN_CMD_ARGS=(
            f"--access-logfile - --access-logformat '{GUNICORN_ACCESS_FORMAT}'"))
    elif worker_class == "no-access":
        env.update(LOG_LEVEL="WARNING")
    return env


# gunicorn's access line with the fields of ours it can know: the request id (the response
# header), method, path (not the route template), status, milliseconds.
GUNICORN_ACCESS_FORMAT = '%({x-request-id}o)s %(m)s %(U)s %(s)s %(M)sms'



_SECRETS: dict[str, str] = {}


def _secret(name: str) -> str:
    """One secret per run, shared by every instance of our service (tokens stay valid)."""
    return _SECRETS.setdefault(name, secrets.token_urlsafe(48))


def prepare_ours(settings: Settings) -> None:
    """Fresh database, migrations, demo data; the bench's own Redis db emptied."""
    recreate_database(settings, settings.our_db)
    redis.Redis.from_url(settings.redis_url(settings.our_redis_db)).flushdb()
    env = our_env(settings)
    flask = [sys.executable, "-m", "flask", "--app", "marketplace"]
    run_quietly([*flask, "db", "upgrade"], env=env, cwd=ROOT)
    log(f"seeding {settings.projects} projects and {settings.users} users (seed-demo)")
    try:
        run_quietly([*flask, "seed-demo", "--projects", str(settings.projects), "--users",
             str(settings.users)], env=env, cwd=ROOT, timeout=1800)
    except RuntimeError as exc:
        if "No such command" not in str(exc):
            raise
        log("seed-demo is not in the service yet: rows inserted with SQL instead")
        seed_with_sql(settings)


def seed_with_sql(settings: Settings) -> None:
    """Stand-in for seed-demo while it is missing: the peer's row shapes, our schema."""
    conn = psycopg2.connect(settings.pg_url(settings.our_db))
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO users (email, password_hash, name) SELECT 'demo' || g || "
            "'@example.com', '!unusable', 'Demo user ' || g FROM generate_series(1, %s) g",
            (settings.users,))
        cur.execute(
            """
            INSERT INTO projects (owner_id, title, description, budget, skills, status,
                                  created_at, updated_at)
            SELECT (SELECT id FROM users ORDER BY email LIMIT 1 OFFSET g %% %s),
                   'AI agent project #' || g,
                   'Build and deploy an autonomous AI agent for client task #' || g ||
                   ': scrape, summarise and report results through a JSON API.',
                   ROUND((100 + (g * 37) %% 9900)::numeric + (g %% 100) / 100.0, 2),
                   ARRAY['python', 'llm'],
                   (ARRAY['open', 'in_progress', 'completed'])[1 + g %% 3],
                   NOW() - make_interval(mins => %s - g), NOW() - make_interval(mins => %s - g)
            FROM generate_series(1, %s) AS g
            """,
            (settings.users, settings.projects, settings.projects, settings.projects))
        cur.execute("ANALYZE users; ANALYZE projects")
    conn.close()


def ours(settings: Settings, worker_class: str = PRODUCTION) -> GunicornService:
    return GunicornService(our_env(settings, worker_class), LOGS, name=f"ours-{worker_class}")


def bare(settings: Settings) -> GunicornService:
    """Same gunicorn.conf.py, same worker class and count as our service."""
    return GunicornService(our_env(settings), LOGS, app="bench.bare_app:app", name="bare",
                           ready_path="/")


def floor(settings: Settings) -> GunicornService:
    """The service's round trip and nothing else (`bench/floor_app.py`), served like it."""
    return GunicornService(our_env(settings), LOGS, app="bench.floor_app:app", name="floor",
                           ready_path="/")


def peer_env(settings: Settings, port: int) -> dict[str, str]:
    env = inherited_environ()
    env.update(
        NODE_ENV="production",
        WORKERS="2",
        PORT=str(port),
        REDIS_URL=settings.redis_url(settings.peer_redis_db),
        DATABASE_URL=f"postgres://root@127.0.0.1:5432/{settings.peer_db}",
        JWT_SECRET=_secret("peer-jwt"),
        SESSION_SECRET=_secret("peer-session"),
        AUTH_LIMIT="100000000",
        PROJECTS_LIMIT="100000000",
    )
    return env


def prepare_peer(settings: Settings) -> None:
    """A writable copy of PEER_DIR (it may be read-only), `npm ci`, its seed, topped up to N
    projects. The copy is made again when PEER_DIR's package-lock.json changes."""
    assert settings.peer_source is not None
    lock = settings.peer_source / "package-lock.json"
    stamp = PEER_COPY / ".bench-lock"
    if not stamp.exists() or stamp.read_bytes() != lock.read_bytes():
        shutil.rmtree(PEER_COPY, ignore_errors=True)
        shutil.copytree(settings.peer_source, PEER_COPY,
                        ignore=shutil.ignore_patterns("node_modules"))
        for path in [PEER_COPY, *PEER_COPY.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
        log("npm ci in bench/out/peer")
        run_quietly(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER_COPY, timeout=900)
        stamp.write_bytes(lock.read_bytes())
    recreate_database(settings, settings.peer_db)
    env = peer_env(settings, 0)
    run_quietly(["node", "seed.js"], env=env, cwd=PEER_COPY)
    top_up_peer(settings)


def top_up_peer(settings: Settings) -> None:
    """seed.js makes 1,000 projects; add rows of the same shape so both sides hold N."""
    conn = psycopg2.connect(settings.pg_url(settings.peer_db))
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), min(owner_id) FROM projects")
        have, owner = cur.fetchone()
        cur.execute(
            """
            INSERT INTO projects (title, description, budget, status, owner_id, created_at)
            SELECT 'AI agent project #' || g,
                   'Build and deploy an autonomous AI agent for client task #' || g ||
                   ': scrape, summarise and report results through a JSON API.',
                   ROUND((100 + (g * 37) %% 9900)::numeric + (g %% 100) / 100.0, 2),
                   (ARRAY['open', 'in_progress', 'completed'])[1 + g %% 3], %s,
                   NOW() - make_interval(mins => %s - g)
            FROM generate_series(%s, %s) AS g
            """,
            (owner, settings.projects, have + 1, settings.projects),
        )
        cur.execute("ANALYZE projects")
    conn.close()


def peer(settings: Settings) -> ServerProcess:
    port = free_port()
    return ServerProcess("peer", ["node", "cluster.js"], peer_env(settings, port), port=port,
                         log_dir=LOGS, cwd=PEER_COPY, ready_path="/api/v1/health/redis")


def peer_versions() -> dict[str, str]:
    pkg = PEER_COPY / "node_modules" / "express" / "package.json"
    return {"express": json.loads(pkg.read_text())["version"]} if pkg.exists() else {}


def read_ids(settings: Settings, db: str, limit: int) -> list[str]:
    """Project ids, newest first (the order the list pages show them)."""
    conn = psycopg2.connect(settings.pg_url(db))
    with conn, conn.cursor() as cur:
        cur.execute("SELECT id::text FROM projects ORDER BY created_at DESC, id DESC LIMIT %s",
                    (limit,))
        ids = [row[0] for row in cur.fetchall()]
    conn.close()
    return ids
