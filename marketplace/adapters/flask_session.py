"""Flask-Session 0.8: its Redis backend's storage hooks, under names the service owns.

`RedisSessionInterface` keeps the session id scheme, the serializer, the cookie and the
`regenerate` of Flask-Session; a backend changes how sessions are read, written and
deleted by overriding its underscore hooks (`_retrieve_session_data`, `_upsert_session`,
`_delete_session`) and makes ids with `_generate_sid`. This base class maps them to
`read`, `write`, `delete` and `new_sid`, so the service's interface (`marketplace/sessions.py`)
overrides only public names, and an upgrade that renames a hook fails `check()`.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_session.redis import RedisSessionInterface

from marketplace.adapters import gone

PRIVATE = ("RedisSessionInterface._retrieve_session_data",
           "RedisSessionInterface._upsert_session", "RedisSessionInterface._delete_session",
           "ServerSideSessionInterface._generate_sid")


class SessionStore(RedisSessionInterface):
    """Flask-Session's Redis interface with its storage hooks renamed."""

    def read(self, store_id: str) -> dict | None:
        return super()._retrieve_session_data(store_id)

    def write(self, lifetime: timedelta, session: Any, store_id: str) -> None:
        super()._upsert_session(lifetime, session, store_id)

    def delete(self, store_id: str) -> None:
        super()._delete_session(store_id)

    def new_sid(self) -> str:
        return self._generate_sid(self.sid_length)

    # Flask-Session calls these; they call the public names above.
    def _retrieve_session_data(self, store_id: str) -> dict | None:
        return self.read(store_id)

    def _upsert_session(self, session_lifetime: timedelta, session: Any,
                        store_id: str) -> None:
        self.write(session_lifetime, session, store_id)

    def _delete_session(self, store_id: str) -> None:
        self.delete(store_id)


def check() -> None:
    """Fail with the hook's name if an upgrade removed what this adapter relies on."""
    for name in PRIVATE:
        attribute = name.rpartition(".")[2]
        if not callable(getattr(RedisSessionInterface, attribute, None)):
            raise gone(f"flask_session {name}", "flask_session",
                       "the new way to read, write and delete a stored session")
