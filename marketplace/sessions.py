"""Server-side sessions in Redis: created only by a login, ended SESSION_LIFETIME after it
however often they are used, and treated as absent while Redis is unreachable.

Flask refreshes a permanent session on every request (SESSION_REFRESH_EACH_REQUEST: a new
cookie expiry), and Flask-Session 0.8 then re-saves it with a full new TTL, so a session in
use would never end. Here a session is written only when it changed (at login), and the
key's TTL, the cookie's expiry and the check when a session is opened all count from its
`login_at`: a session older than that is treated as absent, whatever Redis still holds.

A request without the session cookie (nearly all of them: API clients send bearer tokens)
gets an empty session without an id and costs nothing more; an id is made only when a
login saves the session, so a planted id is never adopted.
"""
from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Request, Response

from marketplace import keys
from marketplace.adapters.flask_session import SessionStore
from marketplace.redis import degrade


class _NotStored(Exception):
    """The session could not be written: the response must not carry a cookie."""


def session_deadline(app: Flask, session: Any) -> float | None:
    """Unix time at which the session ends: its login plus SESSION_LIFETIME (None without a
    usable `login_at`, i.e. no session a login made)."""
    # dict.get: reading through the session would mark it accessed (a `Vary: Cookie`).
    login_at = dict.get(session, "login_at") if session else None
    if isinstance(login_at, bool) or not isinstance(login_at, (int, float)):
        return None
    return login_at + app.permanent_session_lifetime.total_seconds()


class ServiceSessions(SessionStore):
    """Flask-Session's Redis interface with the service's lifetime and failure policy."""

    def __init__(self, app: Flask, **options: Any) -> None:
        super().__init__(app, **options)
        self.cookie_name = app.config["SESSION_COOKIE_NAME"]

    def open_session(self, app: Flask, request: Request) -> Any:
        """The stored session if its cookie names one still within its lifetime, else an
        empty one without an id."""
        sid = request.cookies.get(self.cookie_name) if "HTTP_COOKIE" in request.environ else None
        if sid:
            data = self.read(self._get_store_id(sid))
            if data is not None:
                session = self.session_class(data, sid=sid)
                deadline = session_deadline(app, session)
                if deadline is not None and time.time() < deadline:
                    return session
        return self.session_class(sid=None, permanent=self.permanent)

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        """Nothing unless the session changed (never a refresh: use does not extend it)."""
        if not session.modified:
            if session.accessed:
                response.vary.add("Cookie")
            return
        if session.sid is None:
            session.sid = self.new_sid()
        if session and self._ends_in(app, session) <= 0:
            return  # already over: neither a key nor a cookie
        try:
            super().save_session(app, session, response)
        except _NotStored:
            pass  # no stored session, so no cookie either

    def should_set_cookie(self, app: Flask, session: Any) -> bool:
        return bool(session.modified)

    def get_expiration_time(self, app: Flask, session: Any) -> datetime | None:
        deadline = session_deadline(app, session)
        if deadline is None:
            return super().get_expiration_time(app, session)
        return datetime.fromtimestamp(deadline, UTC)

    def _ends_in(self, app: Flask, session: Any) -> float:
        deadline = session_deadline(app, session)
        return (app.permanent_session_lifetime.total_seconds() if deadline is None
                else deadline - time.time())

    @degrade(None)  # Redis down: no session; the request goes on without one
    def read(self, store_id: str) -> dict | None:
        return super().read(store_id)

    @degrade(None)  # Redis down: the key expires by its TTL; the cookie is cleared anyway
    def delete(self, store_id: str) -> None:
        super().delete(store_id)

    def write(self, lifetime: timedelta, session: Any, store_id: str) -> None:
        """Flask-Session's SET, with a TTL that ends at login_at + SESSION_LIFETIME (to the
        millisecond, by this process's clock) instead of a full lifetime from now."""
        if not self._set(store_id, session, self._ends_in(self.app, session)):
            raise _NotStored()  # Flask-Session then sets no cookie (see save_session)

    @degrade(False)  # Redis down: no stored session, so no cookie either
    def _set(self, store_id: str, session: Any, ends_in: float) -> bool:
        self.client.set(store_id, self.serializer.encode(session),
                        px=math.ceil(ends_in * 1000))
        return True


def install_session_interface(app: Flask, client: Any) -> None:
    """Replace the interface Flask-Session installed with the service's."""
    cfg = app.config
    app.session_interface = ServiceSessions(
        app,
        client=client,
        key_prefix=keys.SESSION,
        use_signer=cfg["SESSION_USE_SIGNER"],
        permanent=cfg["SESSION_PERMANENT"],
        sid_length=cfg["SESSION_ID_LENGTH"],
        serialization_format=cfg["SESSION_SERIALIZATION_FORMAT"],
    )
