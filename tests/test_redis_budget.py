"""One Redis pool per worker process, inside the instance's connection budget."""
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis as redis_lib

from marketplace.redis import per_process_budget
from scripts.processes import GunicornService, PrivateRedis, http
from tests.helpers import UNLIMITED, service_env


def test_budget_is_split_among_processes():
    assert per_process_budget(10, 2) == 5
    assert per_process_budget(6, 2) == 3
    assert per_process_budget(4, 2) == 2
    assert per_process_budget(1, 4) == 1  # at least one each


def service_connections(probe: redis_lib.Redis) -> int:
    return sum(1 for c in probe.client_list() if c.get("name") == "marketplace")


@pytest.mark.parametrize(("budget", "threads"), [(6, None), (4, 8)])
def test_concurrent_clients_never_exceed_the_budget(database_url, db, tmp_path, budget, threads):
    with PrivateRedis(tmp_path / "redis") as server:
        probe = redis_lib.Redis.from_url(server.url)
        env = service_env(database_url, server.url, REDIS_MAX_CONNECTIONS=str(budget),
                          PROJECTS_RATE_LIMIT=UNLIMITED)
        with GunicornService(env, tmp_path, workers=2, threads=threads) as service:
            peak = 0
            done = threading.Event()

            def watch() -> None:
                nonlocal peak
                while not done.is_set():
                    peak = max(peak, service_connections(probe))
                    time.sleep(0.005)

            watcher = threading.Thread(target=watch)
            watcher.start()
            paths = ["/api/v1/health/redis", "/api/v1/projects", "/api/v1/health/ready"]
            try:
                with ThreadPoolExecutor(max_workers=48) as pool:
                    results = list(pool.map(
                        lambda i: http("GET", service.url + paths[i % len(paths)]).status,
                        range(960),
                    ))
            finally:
                done.set()
                watcher.join()
            assert results.count(200) == len(results), {s: results.count(s) for s in set(results)}
            assert 1 <= peak <= budget, peak
            assert service_connections(probe) <= budget


def test_pool_is_fork_safe(make_app, redis):
    """A pool used before a fork (e.g. with --preload) never shares a socket with the child."""
    import os

    app = make_app()
    handle = app.extensions["redis"]
    parent_id = handle.client.client_id()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a fresh connection, not the parent's socket
        try:
            child_id = handle.client.client_id()
            os.write(write_end, str(child_id).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    child_id = int(os.read(read_end, 64).decode())
    os.waitpid(pid, 0)
    assert child_id != parent_id
    assert handle.client.client_id() == parent_id  # the parent's connection still works


def test_callers_waiting_for_a_connection_each_get_one(make_app, redis):
    """Sixteen threads share a pool of two: a caller finding every connection lent out waits
    and is woken by a check-in; none times out, no connection is lost or added."""
    app = make_app(REDIS_MAX_CONNECTIONS=2, WEB_CONCURRENCY=1, REDIS_POOL_TIMEOUT=5.0)
    handle = app.extensions["redis"]
    waited = threading.Barrier(16)

    def work(_: int) -> list[object]:
        waited.wait()  # all sixteen start together, so most find the pool empty
        return [handle.round_trip(("PING",), ("ECHO", "x")) for _ in range(200)]

    with ThreadPoolExecutor(max_workers=16) as pool:
        replies = [r for batch in pool.map(work, range(16)) for r in batch]
    assert replies == [[b"PONG", b"x"]] * 3200
    assert handle.in_use() == 0
    assert len([c for c in handle.pool.pool.queue if c is not None]) <= 2


class _QueueWithoutLock:
    """A LIFO queue with only `get` and `put_nowait`, as gevent's is once a gevent worker
    has patched `queue`: the pool must use it through those two, never its internals."""

    def __init__(self, maxsize: int) -> None:
        self._inner = queue.LifoQueue(maxsize)
        self.put_nowait = self._inner.put_nowait
        self.get = self._inner.get

    @property
    def queue(self) -> list[object]:
        return list(self._inner.queue)


def test_a_pool_queue_of_another_kind_is_used_through_get_and_put(make_app, redis):
    from redis.connection import BlockingConnectionPool

    app = make_app(REDIS_MAX_CONNECTIONS=2, WEB_CONCURRENCY=1)
    handle = app.extensions["redis"]
    pool = handle.pool
    pool.queue_class = _QueueWithoutLock
    pool.reset()  # the pool's queue is now the lockless kind
    assert isinstance(pool.pool, _QueueWithoutLock) and isinstance(pool, BlockingConnectionPool)

    def work(_: int) -> list[object]:
        return [handle.round_trip(("ECHO", "y")) for _ in range(100)]

    with ThreadPoolExecutor(max_workers=8) as threads:
        replies = [r for batch in threads.map(work, range(8)) for r in batch]
    assert replies == [[b"y"]] * 800
    assert handle.client.ping() is True  # redis-py's own commands go through the same pool
    assert handle.in_use() == 0
