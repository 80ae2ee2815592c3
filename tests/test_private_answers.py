"""Answers that carry credentials or depend on who asks are never stored by caches (proxies,
browsers, Render's edge): `Cache-Control: no-store`. Public reads are not private."""
from __future__ import annotations

from typing import Any

from tests.plugins.auth import DEFAULT_PASSWORD

API = "/api/v1"


def test_answers_with_tokens_or_about_the_caller_are_no_store(auth: Any, client: Any) -> None:
    registered = client.post(f"{API}/auth/register", json={
        "email": "private@example.com", "password": DEFAULT_PASSWORD, "name": "P"})
    login = client.post(f"{API}/auth/login", json={"email": "private@example.com",
                                                   "password": DEFAULT_PASSWORD})
    bearer = {"Authorization": f"Bearer {login.json['access_token']}"}
    refreshed = client.post(f"{API}/auth/refresh", headers={
        "Authorization": f"Bearer {login.json['refresh_token']}"})
    owner = auth.register()
    agent = auth.register("agent")
    admin = auth.register("admin")
    project = client.post(f"{API}/projects", headers=owner["headers"], json={
        "title": "Private answers", "budget": 10})
    pid = project.json["project"]["id"]
    proposal = client.post(f"{API}/projects/{pid}/proposals", headers=agent["headers"],
                           json={"cover_letter": "me", "bid_amount": 9})
    proposals = client.get(f"{API}/projects/{pid}/proposals", headers=owner["headers"])
    accepted = client.post(f"{API}/projects/{pid}/proposals/{proposal.json['proposal']['id']}"
                           "/accept", headers=owner["headers"])
    private = {
        "register": registered, "login": login, "refresh": refreshed,
        "me by token": client.get(f"{API}/auth/me", headers=bearer),
        "me by cookie": client.get(f"{API}/auth/me"),
        "proposal": proposal, "proposals": proposals, "accept": accepted,
        "redis-stats": client.get(f"{API}/health/redis-stats", headers=admin["headers"]),
        "password": client.post(f"{API}/auth/password", headers=bearer, json={
            "current_password": DEFAULT_PASSWORD, "new_password": "another-horse-1"}),
        "refused login": client.post(f"{API}/auth/login", json={
            "email": "private@example.com", "password": "wrong-horse-1"}),
    }
    for name, response in private.items():
        assert response.status_code < 500, (name, response.json)
        assert response.headers.get("Cache-Control") == "no-store", name

    public = {
        "list": client.get(f"{API}/projects"),
        "detail": client.get(f"{API}/projects/{pid}"),
        "health": client.get(f"{API}/health"),
        "summary": client.get(f"{API}/stats/summary"),
    }
    for name, response in public.items():
        assert response.status_code == 200, name
        assert "no-store" not in response.headers.get("Cache-Control", ""), name
