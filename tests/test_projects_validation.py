"""Bad input never reaches PostgreSQL: 422 per body field, 400 per query parameter, no 500."""
from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import count_rows
from tests.plugins.projects import PROJECTS

GOOD = {"title": "Build a scraper", "description": "Scrape", "budget": 1500}

BAD_PROJECTS = [
    ({"title": 123}, "title"),
    ({"title": "ab"}, "title"),
    ({"title": "   ab   "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"title": "x" * 100_000}, "title"),
    ({"title": "nul\x00title"}, "title"),
    ({"title": None}, "title"),
    ({"description": "x" * 10_001}, "description"),
    ({"description": "a\x00b"}, "description"),
    ({"description": 5}, "description"),
    ({"budget": True}, "budget"),
    ({"budget": False}, "budget"),
    ({"budget": "1500"}, "budget"),
    ({"budget": 0}, "budget"),
    ({"budget": -5}, "budget"),
    ({"budget": 0.001}, "budget"),
    ({"budget": 0.006}, "budget"),
    ({"budget": 1_000_000_000.01}, "budget"),
    ({"budget": 1e300}, "budget"),
    ({"budget": 123456789012345678901234567890}, "budget"),
    ({"budget": None}, "budget"),
    ({"budget": [1]}, "budget"),
    ({"budget": {"amount": 1}}, "budget"),
    ({"skills": "python"}, "skills"),
    ({"skills": ["ok", 5]}, "skills"),
    ({"skills": [""]}, "skills"),
    ({"skills": ["x" * 51]}, "skills"),
    ({"skills": [f"s{i}" for i in range(21)]}, "skills"),
    ({"skills": ["a\x00"]}, "skills"),
    ({"deadline": "tomorrow"}, "deadline"),
    ({"deadline": "2030-13-01"}, "deadline"),
    ({"deadline": 20300101}, "deadline"),
    ({"deadline": "2030-01-01T25:00:00Z"}, "deadline"),
    ({"deadline": "2030-01-01\x00"}, "deadline"),
    ({"owner_id": "00000000-0000-0000-0000-000000000000"}, "owner_id"),
    ({"status": "completed"}, "status"),
    ({"proposal_count": 99}, "proposal_count"),
]


@pytest.mark.parametrize(("fields", "field"), BAD_PROJECTS)
def test_bad_project_bodies_are_422(client: Any, auth: Any, db: Any, fields: dict[str, Any],
                                    field: str) -> None:
    headers = auth.headers("client")
    response = client.post(f"{PROJECTS}/", json={**GOOD, **fields}, headers=headers)
    assert response.status_code == 422, response.json
    assert response.json["code"] == "validation_error" and response.json["success"] is False
    assert field in response.json["details"]
    assert count_rows(db, "projects") == 0


def test_a_skill_given_twice_is_kept_once(client: Any, auth: Any) -> None:
    body = {**GOOD, "skills": ["Python", " python", "SQL", "python "]}
    response = client.post(f"{PROJECTS}/", json=body, headers=auth.headers("client"))
    assert response.status_code == 201, response.json
    assert response.json["project"]["skills"] == ["python", "sql"]


@pytest.mark.parametrize("missing", ["title", "budget"])
def test_required_fields(client: Any, auth: Any, missing: str) -> None:
    body = {k: v for k, v in GOOD.items() if k != missing}
    response = client.post(f"{PROJECTS}/", json=body, headers=auth.headers("client"))
    assert response.status_code == 422 and response.json["details"] == {missing: "is required"}


@pytest.mark.parametrize("raw", [
    b'{"title": "Build", "budget": NaN}',
    b'{"title": "Build", "budget": Infinity}',
    b'{"title": "Build", "budget": 1e400}',
    b'{"title": "\\ud800 lone", "budget": 10}',
    b'[1, 2]',
    b'{"title": ',
])
def test_malformed_json_is_400(client: Any, auth: Any, db: Any, raw: bytes) -> None:
    response = client.post(f"{PROJECTS}/", data=raw, content_type="application/json",
                           headers=auth.headers("client"))
    assert response.status_code == 400 and response.json["code"] == "invalid_json"
    assert count_rows(db, "projects") == 0


def test_body_without_json_content_type_is_415(client: Any, auth: Any) -> None:
    response = client.post(f"{PROJECTS}/", data="title=x", headers=auth.headers("client"),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_valid_edges_are_accepted(client: Any, auth: Any) -> None:
    headers = auth.headers("client")
    for fields in ({"budget": 0.01}, {"budget": 1_000_000_000}, {"title": "abc"},
                   {"skills": [f"s{i}" for i in range(20)]}, {"skills": ["x" * 50]},
                   {"deadline": "2030-01-01T12:30:00+02:00"},
                   {"deadline": "2030-01-01T12:30:00"}, {"description": "x" * 10_000},
                   {"title": "Émoji 🚀 title"}):
        response = client.post(f"{PROJECTS}/", json={**GOOD, **fields}, headers=headers)
        assert response.status_code == 201, (fields, response.json)
    created = client.post(f"{PROJECTS}/", json={**GOOD, "deadline": "2030-01-01T12:30:00+02:00"},
                          headers=headers).json["project"]
    assert created["deadline"] == "2030-01-01T10:30:00Z"


def test_patch_validation(client: Any, auth: Any) -> None:
    headers = auth.headers("client")
    project = client.post(f"{PROJECTS}/", json=GOOD, headers=headers).json["project"]
    url = f"{PROJECTS}/{project['id']}"
    for body, field in (({}, "body"), ({"title": None}, "title"), ({"budget": True}, "budget"),
                        ({"status": "done"}, "status"), ({"owner_id": "x"}, "owner_id"),
                        ({"skills": None}, "skills")):
        response = client.patch(url, json=body, headers=headers)
        assert response.status_code == 422, (body, response.json)
        assert field in response.json["details"]
    assert client.get(url).json["project"]["title"] == GOOD["title"]


def test_bad_proposals_are_422(client: Any, auth: Any, db: Any) -> None:
    project_id = client.post(f"{PROJECTS}/", json=GOOD,
                             headers=auth.headers("client")).json["project"]["id"]
    headers = auth.headers("agent")
    for body, field in (({"bid_amount": 10}, "cover_letter"),
                        ({"cover_letter": "", "bid_amount": 10}, "cover_letter"),
                        ({"cover_letter": "x" * 5001, "bid_amount": 10}, "cover_letter"),
                        ({"cover_letter": "a\x00", "bid_amount": 10}, "cover_letter"),
                        ({"cover_letter": "hi", "bid_amount": True}, "bid_amount"),
                        ({"cover_letter": "hi", "bid_amount": "10"}, "bid_amount"),
                        ({"cover_letter": "hi", "bid_amount": 0}, "bid_amount"),
                        ({"cover_letter": "hi", "bid_amount": 2e9}, "bid_amount"),
                        ({"cover_letter": "hi", "bid_amount": 10, "status": "accepted"},
                         "status")):
        response = client.post(f"{PROJECTS}/{project_id}/proposals", json=body,
                               headers=headers)
        assert response.status_code == 422, (body, response.json)
        assert field in response.json["details"]
    assert count_rows(db, "proposals") == 0


BAD_QUERIES = [
    ("page=0", "page"), ("page=-1", "page"), ("page=100001", "page"), ("page=abc", "page"),
    ("page=1.5", "page"), ("page=", "page"), ("page=true", "page"),
    ("page=99999999999999999999", "page"), ("page=%EF%BC%91", "page"),  # full-width 1
    ("per_page=0", "per_page"), ("per_page=101", "per_page"), ("per_page=1e2", "per_page"),
    ("sort=oldest", "sort"), ("sort=", "sort"), ("sort=newest%00", "sort"),
    ("status=done", "status"), ("status=OPEN", "status"),
    ("skill=", "skill"), ("skill=" + "x" * 51, "skill"), ("skill=a%00b", "skill"),
    ("q=" + "x" * 201, "q"), ("q=a%00b", "q"),
    ("page=1&page=2", "page"), ("q=a&q=b", "q"),
    ("limit=5", "limit"), ("foo=bar", "foo"),
]


@pytest.mark.parametrize(("query", "field"), BAD_QUERIES)
def test_bad_query_parameters_are_400(client: Any, query: str, field: str) -> None:
    response = client.get(f"{PROJECTS}/?{query}")
    assert response.status_code == 400, response.json
    assert response.json["code"] == "invalid_request"
    assert field in response.json["details"]


def test_query_strings_with_invalid_utf8_never_500(client: Any) -> None:
    for query in ("q=%ED%A0%80", "q=%FF%FE", "skill=%C0%80", "%ED%A0%80=1"):
        response = client.get(f"{PROJECTS}/?{query}")
        assert response.status_code in (200, 400), (query, response.status_code)
        assert response.is_json


def test_featured_takes_no_parameters(client: Any) -> None:
    response = client.get(f"{PROJECTS}/featured?page=2")
    assert response.status_code == 400 and "page" in response.json["details"]
