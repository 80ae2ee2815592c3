"""JWT issue and verification: every token failure becomes a 401 in the contract's envelope."""
from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask_jwt_extended import create_access_token, create_refresh_token

from marketplace.auth import revocation, user_cache
from marketplace.errors import TokenExpired, TokenRevoked, Unauthorized, error_response
from marketplace.extensions import jwt, redis_store
from marketplace.redis import REDIS_ERRORS


def issue_tokens(user: dict[str, Any]) -> dict[str, str]:
    """An access and a refresh token for `user` (identity = id, `role` claim)."""
    claims = {"role": user["role"]}
    return {
        "access_token": create_access_token(identity=user["id"], additional_claims=claims),
        "refresh_token": create_refresh_token(identity=user["id"], additional_claims=claims),
    }


def issue_access_token(user: dict[str, Any]) -> str:
    return create_access_token(identity=user["id"], additional_claims={"role": user["role"]})


def _envelope(error: type[Unauthorized] | type[TokenExpired] | type[TokenRevoked]) -> Any:
    return error_response(error.status, error.code, error.message)


def check_revoked(payload: dict[str, Any]) -> bool:
    """The blocklist check; pipelines `user:<id>` too when the route asked (see guards)."""
    jti, exp = payload.get("jti"), int(payload.get("exp") or 0)
    if not jti:
        return True  # every token we issue has a jti
    if not g.get("prefetch_user"):
        return revocation.is_revoked(jti, exp)
    try:
        pipe = redis_store.client.pipeline(transaction=False)
        revocation.commands_for_check(pipe, jti, exp)
        pipe.get(user_cache.user_key(str(payload.get("sub"))))
        reply, cached = pipe.execute()
        g.prefetched_user = cached
    except REDIS_ERRORS:
        reply = None
    return revocation.answer(reply, jti, exp)


def register_token_callbacks(app: Flask) -> None:
    """Point flask-jwt-extended's loaders at the contract's 401 envelope."""
    unauthorized = lambda *_: _envelope(Unauthorized)  # noqa: E731
    jwt.unauthorized_loader(unauthorized)
    jwt.invalid_token_loader(unauthorized)
    jwt.user_lookup_error_loader(unauthorized)
    jwt.token_verification_failed_loader(unauthorized)
    jwt.needs_fresh_token_loader(unauthorized)
    jwt.expired_token_loader(lambda *_: _envelope(TokenExpired))
    jwt.revoked_token_loader(lambda *_: _envelope(TokenRevoked))
    jwt.token_in_blocklist_loader(lambda _header, payload: check_revoked(payload))
