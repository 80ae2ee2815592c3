"""Access and refresh tokens: issued by flask-jwt-extended, verified once per token.

Every token carries the account's id (`sub`), role, a `jti` and the account's
`token_version` (`tv`). A token's signature and lifetime are verified once per process with
one PyJWT decode (HS256 only) and the claims remembered until the token expires; what can
change while it lives — revocation, the account's token version, the account itself — is
checked on every request (`auth.guards`).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

import jwt
from flask import Flask, current_app
from flask_jwt_extended import create_access_token, create_refresh_token

from marketplace.errors import TokenExpired, Unauthorized

REMEMBERED_TOKENS = 10_000  # verified tokens a process remembers (about 4 MB at most)
REQUIRED_CLAIMS = ("exp", "iat", "jti", "sub", "type")


def _claims(user: dict[str, Any]) -> dict[str, Any]:
    # A record without a version (never from the service) gets 0: refused once it moved on.
    return {"role": user["role"], "tv": user.get("token_version", 0)}


def issue_tokens(user: dict[str, Any]) -> dict[str, str]:
    """An access and a refresh token for `user` (identity = id; claims role and tv)."""
    return {"access_token": issue_access_token(user),
            "refresh_token": create_refresh_token(identity=user["id"],
                                                  additional_claims=_claims(user))}


def issue_access_token(user: dict[str, Any]) -> str:
    return create_access_token(identity=user["id"], additional_claims=_claims(user))


class _Verified:
    """Claims of tokens this process has verified, until they expire (bounded, oldest out)."""

    def __init__(self) -> None:
        self._claims: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> dict[str, Any] | None:
        return self._claims.get(token)

    def remember(self, token: str, claims: dict[str, Any]) -> None:
        with self._lock:
            self._claims[token] = claims
            while len(self._claims) > REMEMBERED_TOKENS:
                self._claims.popitem(last=False)

    def forget(self, token: str) -> None:
        with self._lock:
            self._claims.pop(token, None)


def init_app(app: Flask) -> None:
    """Each app remembers the tokens it verified (apps may differ in their secret)."""
    app.extensions["verified_tokens"] = _Verified()


def verify(token: str, kind: str) -> dict[str, Any]:
    """The claims of a valid, unexpired token of `kind` ("access" or "refresh"); 401 otherwise.

    Not checked here: revocation and the account's token version (they change while a token
    lives; the caller checks them on every request).
    """
    verified = current_app.extensions["verified_tokens"]
    claims = verified.get(token)
    if claims is None:
        claims = _decode(token)
        verified.remember(token, claims)
    elif claims["exp"] <= time.time():
        verified.forget(token)
        raise TokenExpired()
    if claims["type"] != kind:
        raise Unauthorized()
    return claims


def _decode(token: str) -> dict[str, Any]:
    """One PyJWT decode: signature (HS256 only), exp, iat and nbf, the claims we need."""
    cfg = current_app.config
    try:
        claims = jwt.decode(token, cfg["JWT_SECRET_KEY"],
                            algorithms=list(cfg["JWT_DECODE_ALGORITHMS"]),
                            leeway=cfg.get("JWT_DECODE_LEEWAY", 0),
                            options={"require": list(REQUIRED_CLAIMS)})
    except jwt.ExpiredSignatureError:
        raise TokenExpired() from None
    except jwt.PyJWTError:
        raise Unauthorized() from None
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("jti"), str):
        raise Unauthorized()
    return claims
