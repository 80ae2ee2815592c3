"""One benchmark target as the scenarios see it: its server, data, credentials and Redis db."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import redis

from bench.procs import Server

OUR_USER = ("bench-client@example.com", "bench-password-1", "Bench Client")
PEER_USER = ("bench@example.com", "bench-password-1", "Bench User")  # created by seed.js


@dataclass
class Side:
    kind: str  # "ours", "peer" or "bare"
    server: Server
    redis: redis.Redis | None = None  # the target's own Redis db
    database: str | None = None
    ids: list[str] = field(default_factory=list)
    email: str = ""
    password: str = ""
    token: str = ""

    @property
    def label(self) -> str:
        return {"ours": "Flask service", "peer": "Express peer", "bare": "bare Flask"}[self.kind]

    def call(self, method: str, path: str, body: Any = None,
             token: str | None = None) -> tuple[int, Any]:
        """One JSON request for setup and sanity checks (not measured)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
            self.server.base_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw or b"null")
            except ValueError:
                return exc.code, raw[:200]

    def body_size(self, path: str) -> int:
        """Bytes of one response body (the two services' payloads differ in fields)."""
        req = urllib.request.Request(self.server.base_url + path)  # noqa: S310
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
            return len(resp.read())

    def log_in(self) -> str:
        """A fresh access token (tokens expire; each scenario asks again)."""
        status, body = self.call("POST", "/api/v1/auth/login",
                                 {"email": self.email, "password": self.password})
        if status != 200:
            raise RuntimeError(f"{self.kind} login failed: {status} {body}")
        self.token = body.get("access_token") or body.get("token")
        return self.token

    def has_route(self, method: str, path: str) -> bool:
        status, _ = self.call(method, path, {} if method == "POST" else None)
        return status not in (404, 405)


def register_our_user(side: Side) -> None:
    """Our bench user is a client registered through the contract's own route."""
    side.email, side.password, name = OUR_USER
    status, body = side.call("POST", "/api/v1/auth/register",
                             {"email": side.email, "password": side.password, "name": name})
    if status == 404:
        return  # auth not in the service yet: its scenarios are skipped
    if status not in (201, 409):
        raise RuntimeError(f"register failed: {status} {body}")


def use_peer_user(side: Side) -> None:
    side.email, side.password, _ = PEER_USER
