"""Server-side sessions in Redis that degrade to "no session" when Redis is unreachable, and
that end SESSION_LIFETIME after login however often they are used.

Flask refreshes a permanent session on every request (SESSION_REFRESH_EACH_REQUEST: a new
cookie expiry), and Flask-Session 0.8 then re-saves it with a full new TTL, so a session in
use would never end. Here a session is written only when it changed (at login), and the
key's TTL, the cookie's expiry and the check when a session is opened all count from its
`login_at`: a session older than that is treated as absent, whatever Redis still holds.
"""
from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Request, Response
from flask_session.redis import RedisSessionInterface

from marketplace.redis import REDIS_ERRORS

SESSION_PREFIX = "session:"


class _StoreDown(Exception):
    """The session could not be written; the response must not carry a cookie."""


def session_deadline(app: Flask, session: Any) -> float | None:
    """Unix time at which the session ends: its login plus SESSION_LIFETIME (None without a
    usable `login_at`, i.e. no session a login made)."""
    # dict.get: reading through the session would mark it accessed (a `Vary: Cookie`).
    login_at = dict.get(session, "login_at") if session else None
    if isinstance(login_at, bool) or not isinstance(login_at, (int, float)):
        return None
    return login_at + app.permanent_session_lifetime.total_seconds()


class ResilientRedisSessionInterface(RedisSessionInterface):
    """Flask-Session's Redis interface with the service's failure policy and an absolute
    lifetime applied."""

    def open_session(self, app: Flask, request: Request) -> Any:
        """The stored session if it is still within its lifetime, else a fresh empty one."""
        session = super().open_session(app, request)
        if not session:
            return session
        deadline = session_deadline(app, session)
        if deadline is None or time.time() >= deadline:
            return self.session_class(sid=self._generate_sid(self.sid_length),
                                      permanent=self.permanent)
        return session

    def should_set_storage(self, app: Flask, session: Any) -> bool:
        return bool(session.modified)  # never a refresh: using a session does not extend it

    def should_set_cookie(self, app: Flask, session: Any) -> bool:
        return bool(session.modified)

    def get_expiration_time(self, app: Flask, session: Any) -> datetime | None:
        deadline = session_deadline(app, session)
        if deadline is None:
            return super().get_expiration_time(app, session)
        return datetime.fromtimestamp(deadline, UTC)

    def _retrieve_session_data(self, store_id: str) -> dict | None:
        try:
            return super()._retrieve_session_data(store_id)
        except REDIS_ERRORS:
            return None  # treated as absent: the request goes on without a session

    def _delete_session(self, store_id: str) -> None:
        try:
            super()._delete_session(store_id)
        except REDIS_ERRORS:
            pass  # it expires by its TTL; its cookie is cleared all the same

    def _upsert_session(self, lifetime: timedelta, session: Any, store_id: str) -> None:
        """Flask-Session's SET, with a TTL that ends at login_at + SESSION_LIFETIME (to the
        millisecond, by this process's clock) instead of a full lifetime from now."""
        deadline = session_deadline(self.app, session)
        ends_in = lifetime.total_seconds() if deadline is None else deadline - time.time()
        if ends_in <= 0:
            raise _StoreDown()  # already over: neither a key nor a cookie
        try:
            self.client.set(store_id, self.serializer.encode(session),
                            px=math.ceil(ends_in * 1000))
        except REDIS_ERRORS as exc:
            raise _StoreDown() from exc

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        try:
            super().save_session(app, session, response)
        except _StoreDown:
            pass  # no stored session, so no cookie either


def install_session_interface(app: Flask, client: Any) -> None:
    """Replace the interface Flask-Session installed with the resilient one."""
    cfg = app.config
    app.session_interface = ResilientRedisSessionInterface(
        app,
        client=client,
        key_prefix=SESSION_PREFIX,
        use_signer=cfg["SESSION_USE_SIGNER"],
        permanent=cfg["SESSION_PERMANENT"],
        sid_length=cfg["SESSION_ID_LENGTH"],
        serialization_format=cfg["SESSION_SERIALIZATION_FORMAT"],
    )
