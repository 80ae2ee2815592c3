"""The gunicorn workers the service runs: gevent by default, sync when chosen.

`GeventWorker` (the default, `gunicorn.conf.py`): gunicorn's gevent worker, which serves many
connections per process and keeps them alive, with two changes. The process is made
cooperative once gevent has patched it (`marketplace/cooperative.py`: PostgreSQL waits and
password hashing yield to the other requests). And it yields after every request: gunicorn's
own reads a kept-alive connection's next request as soon as it has answered the last one, and
when that request is already waiting it serves it without letting the worker's other
connections run, so a few connections are served again and again while the rest wait (the
bench's worker-class table: a p50 of about 2 ms beside a p99 in the hundreds).

`SyncWorker`: gunicorn's sync worker, closing at once when it can. gunicorn 27's sync worker
ends every connection with `util.close_graceful`: it shuts its side, then waits, idle, for the
client's own close (up to two seconds) before it accepts the next one. That wait protects a
client that is still sending, a body the app did not read or a request sent behind the first:
closing on unread bytes makes the kernel answer with a reset, which can destroy the response
before the client reads it (RFC 9112, section 9.6). When the request was read to its last
byte and nothing else has arrived, there is nothing to protect, and the wait only keeps the
worker from its next client. This worker closes such a connection at once and leaves every
other one to gunicorn's lingering close, as nginx's `lingering_close on` does.

Relies on (checked by `check`): the gevent worker's `patch`, called first in its
`init_process`, and its `handle_request`; the parsed request's `body.reader` (a `LengthReader`
whose `length` counts what is left unread) and `unreader.buf` (bytes read beyond the
request), and the sync worker's `handle_request`, after which its `handle` closes with
`close_graceful`, which returns at once on a socket already closed.
"""
from __future__ import annotations

import inspect
import socket
from typing import Any

import gevent
from gunicorn import util
from gunicorn.http.body import LengthReader
from gunicorn.http.message import Message
from gunicorn.workers import ggevent, sync

from marketplace import cooperative
from marketplace.adapters import gone

_PEEK = socket.MSG_PEEK | socket.MSG_DONTWAIT


def client_is_done(req: Any, client: socket.socket) -> bool:
    """True when the request was read to its last byte and nothing else has arrived."""
    reader = req.body.reader
    if type(reader) is not LengthReader or reader.length or req.unreader.buf.getvalue():
        return False  # a body left unread, chunked or until EOF, or bytes sent behind it
    try:
        return not client.recv(1, _PEEK)  # b"": the client has closed its side already
    except BlockingIOError:
        return True  # nothing waiting
    except OSError:
        return False


class SyncWorker(sync.SyncWorker):
    def handle_request(self, listener: Any, req: Any, client: socket.socket,
                       addr: Any) -> None:
        super().handle_request(listener, req, client, addr)
        if client_is_done(req, client):
            # gunicorn's close that follows finds the socket closed and returns at once.
            client.close()


class GeventWorker(ggevent.GeventWorker):
    def patch(self) -> None:
        super().patch()  # gevent's monkey.patch_all(), before the app is imported
        cooperative.make_cooperative()

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> None:
        super().handle_request(listener_name, req, sock, addr)
        gevent.sleep(0)  # the other connections' turn


def check() -> None:
    """Fail with the name of what an upgrade removed or changed."""
    init = inspect.getsource(ggevent.GeventWorker.init_process)
    patched = init.find("self.patch()")
    if patched < 0 or patched > init.find("init_process()"):
        raise gone("gunicorn GeventWorker.init_process calling patch() first", "gunicorn",
                   "a new place to make the process cooperative")
    if list(inspect.signature(ggevent.GeventWorker.handle_request).parameters) != [
            "self", "listener_name", "req", "sock", "addr"]:
        raise gone("gunicorn GeventWorker.handle_request", "gunicorn", "its arguments")
    if "close_graceful(client)" not in inspect.getsource(sync.SyncWorker.handle):
        raise gone("gunicorn SyncWorker.handle's close_graceful", "gunicorn",
                   "the sync worker to close each connection after handle_request")
    if list(inspect.signature(sync.SyncWorker.handle_request).parameters) != [
            "self", "listener", "req", "client", "addr"]:
        raise gone("gunicorn SyncWorker.handle_request", "gunicorn", "its arguments")
    if "self.unreader = unreader" not in inspect.getsource(Message.__init__):
        raise gone("gunicorn Message.unreader", "gunicorn", "the request's unreader")
    if "self.length -= size" not in inspect.getsource(LengthReader.read):
        raise gone("gunicorn LengthReader.length", "gunicorn", "the unread length of a body")
    closed = socket.socket()
    closed.close()
    util.close_graceful(closed)  # must return at once, without raising
