"""gunicorn's gevent worker, yielding after every request: measured beside the others, not
the service's worker.

gunicorn's gevent worker reads a kept-alive connection's next request as soon as it has
answered the last one, and when that request is already waiting (as wrk's usually is) it
serves it without letting the worker's other connections run: a few connections are served
again and again while the rest wait (the worker-class table: a p50 of about 2 ms beside a
p99 in the hundreds). This one yields to them after each request. Running the service itself
under gevent needs more than this worker (bench/notes.md, "Proposed next").
"""
from __future__ import annotations

from typing import Any

import gevent
from gunicorn.workers.ggevent import GeventWorker


class FairGeventWorker(GeventWorker):
    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> None:
        super().handle_request(listener_name, req, sock, addr)
        gevent.sleep(0)  # the other connections' turn
