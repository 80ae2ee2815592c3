"""One benchmark target as the scenarios see it: its server, data, credentials and Redis db."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import redis

from scripts.processes import ServerProcess, http

OUR_USER = ("bench-client@example.com", "bench-password-1", "Bench Client")
PEER_USER = ("bench@example.com", "bench-password-1", "Bench User")  # created by seed.js


@dataclass
class Side:
    kind: str  # "ours", "peer" or "bare"
    server: ServerProcess
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
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        result = http(method, self.server.url + path, body=body, headers=headers, timeout=30)
        try:
            return result.status, json.loads(result.body or b"null")
        except ValueError:
            return result.status, result.body[:200]

    def body_size(self, path: str) -> int:
        """Bytes of one response body (the two services' payloads differ in fields)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return len(http("GET", self.server.url + path, headers=headers, timeout=30).body)

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
