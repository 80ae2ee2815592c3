"""Process and server helpers shared by `scripts/`, `tests/` and `bench/`.

Import from here, never from the modules below:

- `base`: free ports, pid checks, process groups (started in a new session, stopped with
  SIGTERM then SIGKILL), setup commands run to completion, CPU seconds from /proc, polling.
- `redis_server`: the redis-server binary (one lookup order), PING, INFO commandstats, and
  `PrivateRedis`, a server a test may stop, kill, freeze and restart.
- `postgres_server`: `PrivatePostgres`, the same for a throwaway PostgreSQL cluster.
- `service`: HTTP servers as child processes (`ServerProcess`, `GunicornService`) and a
  tiny standard-library client (`http`).
"""
from scripts.processes.base import (
    ROOT,
    ManagedServer,
    children,
    cpu_seconds,
    free_port,
    inherited_environ,
    package_dir,
    pid_alive,
    read_int,
    run_quietly,
    start_group,
    stop_group,
    tail,
    venv_tool,
    wait_gone,
    wait_until,
)
from scripts.processes.postgres_server import PrivatePostgres, pgserver_bin_dir, postgres_bin_dir
from scripts.processes.redis_server import (
    PrivateRedis,
    redis_command_calls,
    redis_ping,
    redis_server_binary,
)
from scripts.processes.service import (
    GunicornService,
    HTTPResult,
    ServerProcess,
    answers_200,
    http,
)

__all__ = [
    "ROOT",
    "GunicornService",
    "HTTPResult",
    "ManagedServer",
    "PrivatePostgres",
    "PrivateRedis",
    "ServerProcess",
    "answers_200",
    "children",
    "cpu_seconds",
    "free_port",
    "http",
    "inherited_environ",
    "package_dir",
    "pgserver_bin_dir",
    "pid_alive",
    "postgres_bin_dir",
    "read_int",
    "redis_command_calls",
    "redis_ping",
    "redis_server_binary",
    "run_quietly",
    "start_group",
    "stop_group",
    "tail",
    "venv_tool",
    "wait_gone",
    "wait_until",
]
