"""Text refuses Unicode control characters (category Cc) other than newline and tab: every
text field of a body is a 422 naming it, the list filters `q` and `skill` a 400; nothing
changes. Passwords keep their own rules and are never echoed."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.helpers import count_rows
from tests.plugins.projects import PROJECTS

# C0 (NUL, ESC, CR, BEL), DEL and C1 (NEL, CSI): each escapes to six bytes in JSON.
CONTROLS = ["\x00", "\x01", "\x07", "\r", "\x1b", "\x1f", "\x7f", "\x85", "\x9b", "\x9f"]
PROJECT = {"title": "Build a scraper", "description": "Scrape", "budget": 100,
           "skills": ["python"], "deadline": "2030-01-01"}


def _with(body: dict[str, Any], field: str, char: str) -> dict[str, Any]:
    value = body[field]
    return {**body, field: [value[0] + char] if isinstance(value, list) else value + char}


@pytest.mark.parametrize("field", ["title", "description", "skills", "deadline"])
def test_project_text_fields_refuse_control_characters(client: Any, auth: Any, db: Any,
                                                       field: str) -> None:
    owner = auth.register("client")
    project = client.post(PROJECTS, json=PROJECT, headers=owner["headers"]).json["project"]
    for char in CONTROLS:
        for method, url in (("POST", PROJECTS), ("PATCH", f"{PROJECTS}/{project['id']}")):
            body = _with(PROJECT, field, char) if method == "POST" else _with(
                {field: PROJECT[field]}, field, char)
            response = client.open(url, method=method, json=body, headers=owner["headers"])
            assert response.status_code == 422, (method, field, repr(char), response.json)
            assert response.json["code"] == "validation_error"
            assert "control characters" in response.json["details"][field]
    assert count_rows(db, "projects") == 1
    assert client.get(f"{PROJECTS}/{project['id']}").json["project"]["title"] == PROJECT["title"]
    if field != "deadline":  # newline and tab are text
        body = _with(PROJECT, field, " \tcolumn\nline")
        response = client.post(PROJECTS, json=body, headers=owner["headers"])
        assert response.status_code == 201, response.json


def test_cover_letters_and_names_refuse_control_characters_passwords_do_not(
        client: Any, auth: Any, db: Any) -> None:
    project = client.post(PROJECTS, json=PROJECT, headers=auth.headers("client")).json
    agent = auth.headers("agent")
    users = count_rows(db, "users")
    for char in CONTROLS:
        response = client.post(f"{PROJECTS}/{project['project']['id']}/proposals",
                               json={"cover_letter": f"Hire me{char}", "bid_amount": 5},
                               headers=agent)
        assert response.status_code == 422 and "cover_letter" in response.json["details"]
        response = client.post("/api/v1/auth/register", json={
            "email": f"c{ord(char)}@example.com", "password": "correct-horse-9",
            "name": f"Mallory{char}"}, environ_base={"REMOTE_ADDR": f"10.9.0.{ord(char)}"})
        assert response.status_code == 422, response.json
        assert set(response.json["details"]) == {"name"}
    assert count_rows(db, "proposals") == 0 and count_rows(db, "users") == users

    # Passwords keep their own rules (8-128 characters, no NUL) and are never echoed.
    secret = "s3cret\x1b[31mpass"
    response = client.post("/api/v1/auth/register", json={
        "email": "esc@example.com", "password": secret, "name": "Esc"})
    assert response.status_code == 201, response.json
    login = client.post("/api/v1/auth/login", json={"email": "esc@example.com",
                                                    "password": secret})
    assert login.status_code == 200
    refused = client.post("/api/v1/auth/register", json={
        "email": "nul@example.com", "password": "nul\x00password", "name": "Nul"})
    assert refused.status_code == 422 and "password" in refused.json["details"]
    assert "nul\x00password" not in refused.get_data(as_text=True)


@pytest.mark.parametrize("param", ["q", "skill"])
def test_list_filters_refuse_control_characters(client: Any, redis: Any, param: str) -> None:
    for char in CONTROLS:
        response = client.get(f"{PROJECTS}?{param}={quote('python' + char)}")
        assert response.status_code == 400, (param, repr(char), response.json)
        assert response.json["code"] == "invalid_request"
        assert param in response.json["details"]
    assert not list(redis.scan_iter(match="cache:*"))
    assert client.get(f"{PROJECTS}?{param}={quote('python')}").status_code == 200
