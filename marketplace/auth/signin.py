"""Signing in with an e-mail and a password: what the API's login and the operator console's
login share (the failed-login limit, the credentials check, the fresh session)."""
from __future__ import annotations

import time
from typing import Any

from flask import current_app, session

from marketplace import rate_limits
from marketplace.auth import users
from marketplace.errors import InvalidCredentials
from marketplace.rate_limits import LOGIN_FAILURES, account_key
from marketplace.stats import presence


def checked_login(email: str, password: str) -> dict[str, Any]:
    """The account whose password this is; 401 `invalid_credentials` otherwise, counted
    against LOGIN_FAILURE_LIMIT for the e-mail (429 once no attempt is left)."""
    with rate_limits.counting_failures(LOGIN_FAILURES, account_key(email)):
        user = users.authenticate(email, password)
        if user is None:
            raise InvalidCredentials()
    return user


def start_session(user: dict[str, Any]) -> None:
    """A fresh session id at every login: whatever session the request carried is destroyed.
    The user counts as online from now."""
    if session:  # an unknown cookie id was already replaced by a fresh one when opened
        current_app.session_interface.regenerate(session)
        session.clear()
    session["user_id"] = user["id"]
    session["login_at"] = int(time.time())
    session["token_version"] = user["token_version"]
    presence.mark_active(user["id"], force=True)
