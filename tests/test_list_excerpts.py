"""Lists carry an excerpt of each description (cut on a word boundary, with an ellipsis, and
`description_truncated`); the detail route and every write answer with the whole project."""
from __future__ import annotations

from typing import Any

from tests.plugins.projects import PROJECTS

EXCERPT_CHARS = 280  # as docs/projects.md promises (marketplace.projects.serialize)

LONG = " ".join(f"word{i}" for i in range(400))  # ~2,900 characters


def create(client: Any, headers: dict[str, str], description: str, budget: int = 100) -> Any:
    response = client.post(PROJECTS, json={"title": "Excerpted project", "budget": budget,
                                           "description": description}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["project"]


def listed(client: Any, url: str = f"{PROJECTS}?sort=budget") -> list[dict[str, Any]]:
    response = client.get(url)
    assert response.status_code == 200
    return response.json["data"]


def test_lists_carry_excerpts_cut_on_a_word_boundary(client: Any, auth: Any) -> None:
    headers = auth.headers("client")
    created = create(client, headers, LONG, budget=500)
    assert created["description"] == LONG and "description_truncated" not in created
    for item in (listed(client)[0], listed(client, f"{PROJECTS}/featured")[0]):
        excerpt = item["description"]
        assert item["description_truncated"] is True
        assert len(excerpt) <= EXCERPT_CHARS and excerpt.endswith("\u2026")
        kept = excerpt[:-1]
        assert LONG.startswith(kept) and LONG[len(kept)] == " "  # a whole word ends there
        assert len(kept) > EXCERPT_CHARS - 20
    detail = client.get(f"{PROJECTS}/{created['id']}").json["project"]
    assert detail["description"] == LONG and "description_truncated" not in detail


def test_short_descriptions_are_whole_and_edges(client: Any, auth: Any) -> None:
    headers = auth.headers("client")
    exact, over = "x" * EXCERPT_CHARS, "y" * (EXCERPT_CHARS + 1)
    create(client, headers, "Short and sweet", budget=3)
    create(client, headers, exact, budget=2)
    create(client, headers, over, budget=1)  # no space to cut at: cut inside the word
    short, whole, cut = listed(client)
    assert (short["description"], short["description_truncated"]) == ("Short and sweet", False)
    assert (whole["description"], whole["description_truncated"]) == (exact, False)
    assert cut["description_truncated"] is True
    assert cut["description"] == "y" * (EXCERPT_CHARS - 1) + "\u2026"


def test_every_write_answers_with_the_whole_project(client: Any, auth: Any) -> None:
    owner = auth.register("client")
    project = create(client, owner["headers"], "short")
    url = f"{PROJECTS}/{project['id']}"
    patched = client.patch(url, json={"description": LONG}, headers=owner["headers"])
    assert patched.status_code == 200 and patched.json["project"]["description"] == LONG
    assert client.post(f"{url}/proposals", json={"cover_letter": "Me", "bid_amount": 5},
                       headers=auth.headers("agent")).status_code == 201
    proposal = client.get(f"{url}/proposals", headers=owner["headers"]).json["data"][0]
    accepted = client.post(f"{url}/proposals/{proposal['id']}/accept",
                           headers=owner["headers"])
    assert accepted.status_code == 200 and accepted.json["project"]["description"] == LONG
    assert listed(client)[0]["description_truncated"] is True
