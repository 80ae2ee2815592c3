"""HTTP routes of the projects domain."""
from flask import Blueprint

bp = Blueprint("projects", __name__, url_prefix="/api/v1/projects")
