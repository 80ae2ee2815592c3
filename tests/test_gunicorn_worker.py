"""The sync worker (`marketplace/adapters/gunicorn.py`): a connection closes as soon as
its client has nothing left to send, and lingers, as gunicorn's own close does, while the
client may still be sending."""
from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from scripts.processes import GunicornService
from tests.helpers import service_env

pytestmark = pytest.mark.slow

HEALTH = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module")
def service(database_url: str, redis_url: str, tmp_path_factory: Any) -> Any:
    env = service_env(database_url, redis_url, MAX_CONTENT_LENGTH="1024",
                      GUNICORN_WORKER_CLASS="marketplace.adapters.gunicorn.SyncWorker")
    with GunicornService(env, tmp_path_factory.mktemp("gunicorn-worker"), workers=1) as service:
        yield service


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    sock.settimeout(timeout)
    started, reply = time.monotonic(), b""
    while chunk := sock.recv(65536):
        reply += chunk
    return reply, time.monotonic() - started


def send_after_the_answer(sock: socket.socket) -> None:
    """Bytes sent after the answer: into a lingering close they are drained; into a closed
    socket the second send fails (the first one draws the reset)."""
    for _ in range(2):
        sock.sendall(b"x" * 1000)
        time.sleep(0.2)


def test_a_client_that_keeps_its_connection_open_does_not_hold_the_worker(service: Any) -> None:
    with socket.create_connection(("127.0.0.1", service.port)) as holder:
        holder.sendall(HEALTH)
        reply, _ = read_until_closed(holder, timeout=5)  # the answer, then the server's FIN
        assert reply.startswith(b"HTTP/1.1 200"), reply[:100]
        # The holder has not closed its side. gunicorn's own close would now wait up to two
        # seconds for it, with the only worker idle meanwhile; this one has moved on.
        with socket.create_connection(("127.0.0.1", service.port)) as other:
            other.sendall(HEALTH)
            reply, waited = read_until_closed(other, timeout=5)
        assert reply.startswith(b"HTTP/1.1 200") and waited < 1.0, (reply[:100], waited)


@pytest.mark.parametrize(("request_bytes", "status"), [
    # A body the app refuses unread (over MAX_CONTENT_LENGTH): the rest is still on its way.
    (b"POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Length: 40000\r\n\r\n" + b"x" * 1000, b"413"),
    # A second request sent behind the first, in the same write.
    (HEALTH + HEALTH, b"200"),
], ids=["unread-body", "pipelined"])
def test_a_client_that_may_still_be_sending_gets_the_lingering_close(
        service: Any, request_bytes: bytes, status: bytes) -> None:
    with socket.create_connection(("127.0.0.1", service.port)) as client:
        client.sendall(request_bytes)
        client.settimeout(5)
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += client.recv(65536)
        assert reply.startswith(b"HTTP/1.1 " + status), reply[:100]
        send_after_the_answer(client)  # raises ConnectionResetError/BrokenPipeError if closed
