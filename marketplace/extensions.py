"""Extension instances; the factory wires them up in `register_extensions`."""
from flask import Blueprint, request
from flask_caching import Cache
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_session import Session

from marketplace.db import Database
from marketplace.generations import Generations
from marketplace.network import client_address
from marketplace.redis import RedisManager

redis_store = RedisManager()
db = Database()
generations = Generations()
cache = Cache()
sessions = Session()
jwt = JWTManager()
limiter = Limiter(key_func=client_address)
_limited_blueprints: set[str] = set()


def limited_blueprint(bp: Blueprint) -> Blueprint:
    """Declare that `bp` has rate limits (routes or the whole blueprint) for `limiter`."""
    _limited_blueprints.add(bp.name)
    return bp


@limiter.request_filter
def _outside_limited_blueprints() -> bool:
    """Flask-Limiter resolves limits for every request of the app; health, stats and the
    OpenAPI document have none, so they skip it (measured: bench/results.md)."""
    return request.blueprint not in _limited_blueprints
