"""SQL of the users table: the only place that reads or writes password hashes.

A user's *record* is the contract's public fields plus `token_version`, the number every
token carries (claim `tv`); changing the password, resetting it or changing the role bumps
it, so every token issued before ends. Every change of a user is a `writes.write()` that
touches the `users` generation, so no process serves a cached record older than it.
"""
from __future__ import annotations

import functools
import uuid
from typing import Any

import psycopg2.errors
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from marketplace import writes
from marketplace.cooperative import off_the_loop
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.generations import USERS
from marketplace.http import iso_utc

RECORD_COLUMNS = "id, email, name, role, created_at, token_version"
PUBLIC_FIELDS = ("id", "email", "name", "role", "created_at")


def normalise_email(email: str) -> str:
    """The stored form: surrounding spaces dropped, lower case."""
    return email.strip().lower()


def record(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the service passes it around (and caches it): strings and numbers only."""
    return {"id": str(row["id"]), "email": row["email"], "name": row["name"],
            "role": row["role"], "created_at": iso_utc(row["created_at"]),
            "token_version": int(row["token_version"])}


def public(user: dict[str, Any]) -> dict[str, Any]:
    """The contract's user: never the hash, never the token version."""
    return {name: user[name] for name in PUBLIC_FIELDS}


def hash_password(password: str) -> str:
    return _hash(password, current_app.config["PASSWORD_HASH_METHOD"])


@functools.lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    return _hash("not-a-real-password", method)


# scrypt takes about 0.1 s of CPU: off the event loop under the gevent worker, so the
# worker's other requests go on meanwhile (marketplace/cooperative.py).
def _hash(password: str, method: str) -> str:
    return off_the_loop(generate_password_hash, password, method=method)


def _matches(password_hash: str, password: str) -> bool:
    return off_the_loop(check_password_hash, password_hash, password)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def create_user(email: str, password: str, name: str, role: str) -> dict[str, Any]:
    """Insert a user; an e-mail already registered (in any case) is a 409."""
    password_hash = hash_password(password)
    try:
        with db.transaction() as cur:
            cur.execute(
                f"INSERT INTO users (email, password_hash, name, role) VALUES (%s, %s, %s, %s) "
                f"RETURNING {RECORD_COLUMNS}",
                (normalise_email(email), password_hash, name, role),
            )
            return record(cur.fetchone())
    except psycopg2.errors.UniqueViolation:
        raise Conflict("This e-mail address is already registered.") from None


def authenticate(email: str, password: str) -> dict[str, Any] | None:
    """The user when the password matches; as slow for an unknown e-mail as for a known one."""
    return _checked(_with_hash("email", normalise_email(email)), password)


def verify_password(user_id: str, password: str) -> dict[str, Any] | None:
    """The user when `password` is theirs (same timing for a user that no longer exists)."""
    return _checked(_with_hash("id", user_id) if _is_uuid(user_id) else None, password)


def _with_hash(column: str, value: str) -> dict[str, Any] | None:
    """The row (record columns and the hash) whose `column` ("email" or "id") is `value`."""
    with db.transaction(readonly=True) as cur:
        cur.execute(f"SELECT {RECORD_COLUMNS}, password_hash FROM users WHERE {column} = %s",
                    (value,))
        return cur.fetchone()


def _checked(row: dict[str, Any] | None, password: str) -> dict[str, Any] | None:
    if row is None:
        _matches(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return None
    if not _matches(row["password_hash"], password):
        return None
    return record(row)


def check_credentials(email: str, password: str) -> tuple[dict[str, Any] | None, bool]:
    """(the user with this e-mail or None, whether `password` is theirs): `authenticate`
    for a caller that must tell "no such account" from "another password"."""
    row = _with_hash("email", normalise_email(email))
    if row is None:
        return None, False
    return record(row), _matches(row["password_hash"], password)


def find_user(user_id: str, cur: Any = None) -> dict[str, Any] | None:
    """The user by id, straight from PostgreSQL (the source of truth)."""
    if not _is_uuid(user_id):
        return None
    if cur is None:
        with db.transaction(readonly=True) as cur:
            return find_user(user_id, cur)
    cur.execute(f"SELECT {RECORD_COLUMNS} FROM users WHERE id = %s", (user_id,))
    row = cur.fetchone()
    return record(row) if row else None


def change_password(user_id: str, password: str) -> dict[str, Any] | None:
    """Set a new password and end every token issued before (None: no such user)."""
    password_hash = hash_password(password)
    with writes.write() as change:
        change.cur.execute(
            f"UPDATE users SET password_hash = %s, token_version = token_version + 1, "
            f"updated_at = now() WHERE id = %s RETURNING {RECORD_COLUMNS}",
            (password_hash, user_id),
        )
        row = change.cur.fetchone()
        if row is not None:
            change.touch(USERS, row["id"])
    return record(row) if row else None


def create_or_promote_admin(
    email: str, name: str, password: str | None
) -> tuple[dict[str, Any], bool]:
    """Create an admin, or make an existing account one: its name set and, when `password`
    is given, its password reset. A reset or a change of role ends every token issued
    before (a new name alone does not); returns (user, created)."""
    password_hash = hash_password(password) if password else None
    with writes.write() as change:
        cur = change.cur
        cur.execute(
            f"UPDATE users SET name = %(name)s, "
            f"password_hash = COALESCE(%(hash)s, password_hash), "
            f"token_version = token_version "
            f"  + CASE WHEN role <> 'admin' OR %(hash)s IS NOT NULL THEN 1 ELSE 0 END, "
            f"role = 'admin', updated_at = now() "
            f"WHERE email = %(email)s RETURNING {RECORD_COLUMNS}",
            {"name": name, "hash": password_hash, "email": normalise_email(email)},
        )
        row = cur.fetchone()
        if row is not None:
            change.touch(USERS, row["id"])
            return record(row), False
        if password_hash is None:
            raise ValueError("a password is required to create a new admin")
        cur.execute(
            f"INSERT INTO users (email, password_hash, name, role) VALUES (%s, %s, %s, 'admin') "
            f"RETURNING {RECORD_COLUMNS}",
            (normalise_email(email), password_hash, name),
        )
        return record(cur.fetchone()), True


def lock_by_email(cur: Any, email: str) -> str | None:
    """Inside a write: the id of the account with `email`, locked until the commit."""
    cur.execute("SELECT id FROM users WHERE email = %s FOR UPDATE", (normalise_email(email),))
    row = cur.fetchone()
    return str(row["id"]) if row else None


def delete(change: writes.Write, user_id: str) -> None:
    """Inside a write: remove the account (its revoked tokens go with it)."""
    change.cur.execute("DELETE FROM users WHERE id = %s", (user_id,))
    change.touch(USERS, user_id)
