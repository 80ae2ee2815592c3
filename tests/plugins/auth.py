"""Fixtures and helpers of the auth domain: `auth.register(...)` and `auth.headers(...)` (as
flaskr's), `login(client, email)` through the route, `bearer(token)` headers."""
from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from flask import Flask

_counter = itertools.count(1)
DEFAULT_PASSWORD = "correct-horse-9"
LOGIN = "/api/v1/auth/login"


def bearer(token: str) -> dict[str, str]:
    """The Authorization header of an access or refresh token."""
    return {"Authorization": f"Bearer {token}"}


def login(client: Any, email: str, password: str = DEFAULT_PASSWORD, **headers: str) -> Any:
    """POST /auth/login with the Flask test client (spends the app's AUTH_RATE_LIMIT)."""
    return client.post(LOGIN, json={"email": email, "password": password}, headers=headers)


class AuthActions:
    """Creates users through the service layer and mints tokens as the login route does.

    No HTTP request is made, so the AUTH_RATE_LIMIT of the app under test is untouched.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app

    def register(self, role: str = "client", email: str | None = None,
                 password: str = DEFAULT_PASSWORD, name: str = "Test User") -> dict[str, Any]:
        from marketplace.auth import users
        from marketplace.auth.tokens import issue_tokens

        email = email or f"user{next(_counter)}-{uuid.uuid4().hex[:8]}@example.com"
        with self.app.app_context():
            if role == "admin":  # the create-admin command's service, then a login
                users.create_or_promote_admin(email, name, password)
            else:
                users.create_user(email, password, name, role)
            user = users.authenticate(email, password)
            assert user is not None
            tokens = issue_tokens(user)
        return {
            "user": users.public(user),  # as the API shows it
            **tokens,
            "headers": bearer(tokens["access_token"]),
        }

    def headers(self, role: str = "client") -> dict[str, str]:
        """Bearer headers of a fresh user with `role`."""
        return self.register(role=role)["headers"]


@pytest.fixture
def auth(app: Flask, client: Any) -> AuthActions:
    return AuthActions(app)
