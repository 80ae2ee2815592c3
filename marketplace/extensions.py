"""Extension instances; the factory wires them up in `register_extensions`."""
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
# Its limits are resolved once per app and counted by marketplace/rate_limits.py.
limiter = Limiter(key_func=client_address)
