"""Server-side sessions in Redis that degrade to "no session" when Redis is unreachable."""
from __future__ import annotations

from typing import Any

from flask import Flask, Response
from flask_session.redis import RedisSessionInterface

from marketplace.redis import REDIS_ERRORS

SESSION_PREFIX = "session:"


class _StoreDown(Exception):
    """The session could not be written; the response must not carry a cookie."""


class ResilientRedisSessionInterface(RedisSessionInterface):
    """Flask-Session's Redis interface with the service's failure policy applied."""

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

    def _upsert_session(self, lifetime: Any, session: Any, store_id: str) -> None:
        try:
            super()._upsert_session(lifetime, session, store_id)
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
