"""`GET /api/v1/openapi.json`: the document, encoded once per process."""
from __future__ import annotations

from functools import cache

import orjson
from flask import Blueprint, Response

from marketplace.openapi.document import build_document

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")


@cache
def _encoded() -> bytes:
    return orjson.dumps(build_document())


@bp.get("/openapi.json")
def openapi_document() -> Response:
    return Response(_encoded(), mimetype="application/json")
