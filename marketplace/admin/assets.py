"""The console's own JavaScript, CSS and icon: read once per app, served under a URL that
carries a hash of their content, so browsers may keep them for a year and a deploy that
changes one changes its URL."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from flask import Response, current_app, url_for

from marketplace.errors import NotFound

FOLDER = Path(__file__).parent / "static"
CACHE_FOREVER = "public, max-age=31536000, immutable"
# Fixed here, not guessed from the machine's mime.types: nosniff makes the type matter.
MIMETYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@dataclass(frozen=True)
class Asset:
    data: bytes
    digest: str
    mimetype: str


def load(folder: Path = FOLDER) -> dict[str, Asset]:
    """Every file of `folder` by name, with the first 16 hex digits of its SHA-256."""
    found = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in MIMETYPES:
            data = path.read_bytes()
            found[path.name] = Asset(data, hashlib.sha256(data).hexdigest()[:16],
                                     MIMETYPES[path.suffix])
    return found


def _assets() -> dict[str, Asset]:
    return current_app.extensions["admin_assets"]


def asset_url(name: str) -> str:
    """The versioned URL of `name` (templates call it)."""
    return url_for("admin.asset", digest=_assets()[name].digest, name=name)


def serve(digest: str, name: str) -> Response:
    """The file, if `digest` is its current one (an old URL is a 404, never stale content)."""
    asset = _assets().get(name)
    if asset is None or asset.digest != digest:
        raise NotFound()
    return Response(asset.data, mimetype=asset.mimetype,
                    headers={"Cache-Control": CACHE_FOREVER})
