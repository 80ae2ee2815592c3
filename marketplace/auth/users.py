"""SQL of the users table: the only place that reads or writes password hashes."""
from __future__ import annotations

import functools
import uuid
from typing import Any

import psycopg2.errors
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from marketplace.errors import Conflict
from marketplace.extensions import db

PUBLIC_COLUMNS = "id, email, name, role, created_at"


def normalise_email(email: str) -> str:
    """The stored form: surrounding spaces dropped, lower case."""
    return email.strip().lower()


def public_user(row: dict[str, Any]) -> dict[str, Any]:
    """The contract's user: UUID and timestamp as strings, never the hash."""
    created = row["created_at"]
    return {
        "id": str(row["id"]),
        "email": row["email"],
        "name": row["name"],
        "role": row["role"],
        "created_at": created if isinstance(created, str) else created.isoformat(),
    }


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


@functools.lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    return generate_password_hash("not-a-real-password", method=method)


def create_user(email: str, password: str, name: str, role: str) -> dict[str, Any]:
    """Insert a user; an e-mail already registered (in any case) is a 409."""
    password_hash = hash_password(password)
    try:
        with db.transaction() as cur:
            cur.execute(
                f"INSERT INTO users (email, password_hash, name, role) VALUES (%s, %s, %s, %s) "
                f"RETURNING {PUBLIC_COLUMNS}",
                (normalise_email(email), password_hash, name, role),
            )
            return public_user(cur.fetchone())
    except psycopg2.errors.UniqueViolation:
        raise Conflict("This e-mail address is already registered.") from None


def authenticate(email: str, password: str) -> dict[str, Any] | None:
    """The user when the password matches; as slow for an unknown e-mail as for a known one."""
    with db.transaction(readonly=True) as cur:
        cur.execute(
            f"SELECT {PUBLIC_COLUMNS}, password_hash FROM users WHERE email = %s",
            (normalise_email(email),),
        )
        row = cur.fetchone()
    if row is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return None
    if not check_password_hash(row["password_hash"], password):
        return None
    return public_user(row)


def check_credentials(email: str, password: str) -> tuple[dict[str, Any] | None, bool]:
    """(the user with this e-mail or None, whether `password` is theirs): `authenticate`
    for a caller that must tell "no such account" from "another password"."""
    with db.transaction(readonly=True) as cur:
        cur.execute(
            f"SELECT {PUBLIC_COLUMNS}, password_hash FROM users WHERE email = %s",
            (normalise_email(email),),
        )
        row = cur.fetchone()
    if row is None:
        return None, False
    return public_user(row), check_password_hash(row["password_hash"], password)


def find_user(user_id: str) -> dict[str, Any] | None:
    """The user by id, straight from PostgreSQL (the user cache reads through this)."""
    try:
        uuid.UUID(user_id)
    except (ValueError, TypeError, AttributeError):
        return None
    with db.transaction(readonly=True) as cur:
        cur.execute(f"SELECT {PUBLIC_COLUMNS} FROM users WHERE id = %s", (user_id,))
        row = cur.fetchone()
    return public_user(row) if row else None


def create_or_promote_admin(
    email: str, name: str, password: str | None
) -> tuple[dict[str, Any], bool]:
    """Create an admin, or make an existing account one; returns (user, created)."""
    password_hash = hash_password(password) if password else None
    with db.transaction() as cur:
        cur.execute(
            f"UPDATE users SET role = 'admin', name = %s, "
            f"password_hash = COALESCE(%s, password_hash), updated_at = now() "
            f"WHERE email = %s RETURNING {PUBLIC_COLUMNS}",
            (name, password_hash, normalise_email(email)),
        )
        row = cur.fetchone()
        if row is not None:
            return public_user(row), False
        if password_hash is None:
            raise ValueError("a password is required to create a new admin")
        cur.execute(
            f"INSERT INTO users (email, password_hash, name, role) VALUES (%s, %s, %s, 'admin') "
            f"RETURNING {PUBLIC_COLUMNS}",
            (normalise_email(email), password_hash, name),
        )
        return public_user(cur.fetchone()), True
