"""HTTP routes of the stats domain."""
from flask import Blueprint

bp = Blueprint("stats", __name__, url_prefix="/api/v1/stats")
