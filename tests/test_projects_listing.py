"""Listing and search: filters, sorts, pagination, featured; at 100,000 projects every filter
uses an index (EXPLAIN of the exact statement the store runs); the seed-demo command."""
from __future__ import annotations

import json
from typing import Any

import pytest

from marketplace.generations import PROJECTS as GENERATION
from marketplace.projects import store
from marketplace.projects.query import ListQuery
from tests.helpers import count_rows
from tests.plugins.projects import PROJECTS


@pytest.fixture
def catalogue(new_user: Any, new_project: Any) -> dict[str, str]:
    owner = new_user("client")
    return {
        "flask": new_project(owner, title="Build a Flask API", skills=["python", "flask"],
                             budget=500, created_at="2030-01-01T00:00:00Z"),
        "scraper": new_project(owner, title="Write a web scraper",
                               description="Crawl product pages politely", skills=["python"],
                               budget=900, created_at="2030-01-02T00:00:00Z"),
        "logo": new_project(owner, title="Design a logo", skills=["figma"], budget=300,
                            status="completed", created_at="2030-01-03T00:00:00Z"),
        "chatbot": new_project(owner, title="Chatbot for support", budget=2000,
                               description="An LLM agent answering tickets", skills=["llm"],
                               status="cancelled", created_at="2030-01-04T00:00:00Z"),
    }


def listed(client: Any, query: str = "") -> list[str]:
    response = client.get(f"{PROJECTS}/?{query}")
    assert response.status_code == 200, response.json
    return [project["id"] for project in response.json["data"]]


def test_filters_sorts_and_search(client: Any, catalogue: dict[str, str]) -> None:
    c = catalogue
    assert listed(client) == [c["chatbot"], c["logo"], c["scraper"], c["flask"]]
    assert listed(client, "sort=budget") == [c["chatbot"], c["scraper"], c["flask"], c["logo"]]
    assert listed(client, "status=open") == [c["scraper"], c["flask"]]
    assert listed(client, "status=completed") == [c["logo"]]
    assert listed(client, "skill=python&sort=budget") == [c["scraper"], c["flask"]]
    assert listed(client, "skill=PYTHON") == [c["scraper"], c["flask"]]
    assert listed(client, "skill=cobol") == []
    assert listed(client, "q=scraper") == [c["scraper"]]
    assert listed(client, "q=crawling") == [c["scraper"]]  # description, English stemming
    assert listed(client, "q=tickets%20agent") == [c["chatbot"]]
    assert listed(client, "q=%22web%20scraper%22%20-flask") == [c["scraper"]]
    assert listed(client, "q=the") == []  # only a stop word: matches nothing, no error
    assert listed(client, "q=python&skill=python&status=open") == []


def test_pagination(client: Any, catalogue: dict[str, str]) -> None:
    response = client.get(f"{PROJECTS}/?per_page=3&page=2")
    assert response.json["pagination"] == {"page": 2, "per_page": 3, "total": 4, "pages": 2}
    assert len(response.json["data"]) == 1
    beyond = client.get(f"{PROJECTS}/?page=100000").json
    assert beyond["data"] == [] and beyond["pagination"]["total"] == 4
    empty = client.get(f"{PROJECTS}/?q=nothing-matches-this").json["pagination"]
    assert empty == {"page": 1, "per_page": 20, "total": 0, "pages": 0}


def test_featured_are_open_projects_by_budget(client: Any, catalogue: dict[str, str],
                                              new_project: Any) -> None:
    expensive = [new_project(budget=10_000 + i) for i in range(12)]
    data = client.get(f"{PROJECTS}/featured").json["data"]
    assert [p["id"] for p in data] == expensive[::-1][:store.FEATURED_LIMIT]
    assert {p["status"] for p in data} == {"open"}


def _plan_nodes(plan: Any) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _plan_nodes(child)
    return nodes


def test_seed_demo_and_every_filter_uses_an_index(app: Any, db: Any) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo", "--projects", "100000", "--users", "40"])
    assert result.exit_code == 0, result.output
    assert "demo-client-1@example.com" in result.output
    assert count_rows(db, "projects") == 100_000
    assert count_rows(db, "users") == 40
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM projects p WHERE proposal_count <> "
                    "(SELECT count(*) FROM proposals WHERE project_id = p.id)")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(*) FROM projects WHERE status IN ('in_progress', 'completed')"
                    " AND id NOT IN (SELECT project_id FROM proposals WHERE status='accepted')")
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(DISTINCT password_hash) FROM users")
        assert cur.fetchone()[0] == 1  # hashed once for every demo user

    expected = {
        ListQuery(): "projects_created_idx",
        ListQuery(sort="budget"): "projects_budget_idx",
        ListQuery(status="open"): "projects_status_created_idx",
        ListQuery(status="cancelled", sort="budget"): "projects_status_budget_idx",
        ListQuery(skill="redis"): "projects_skills_idx",
        ListQuery(skill="redis", sort="budget"): "projects_skills_idx",
        ListQuery(q="chatbot fintech"): "projects_search_idx",
        ListQuery(q="scraper", status="open", sort="budget"): "projects_search_idx",
        ListQuery(page=50, per_page=50): "projects_created_idx",  # deep pages: see docs
    }
    statements = {query: store.list_statement(query) for query in expected}
    statements["featured"] = (store.FEATURED_SQL, (store.FEATURED_LIMIT, GENERATION))
    expected["featured"] = "projects_status_budget_idx"
    with db.cursor() as cur:
        for query, (sql, params) in statements.items():
            cur.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            raw = cur.fetchone()[0]
            plan = raw if isinstance(raw, list) else json.loads(raw)
            nodes = _plan_nodes(plan[0]["Plan"])
            scans = [(n["Node Type"], n.get("Index Name")) for n in nodes
                     if n.get("Relation Name") == "projects" or n.get("Index Name")]
            assert not [s for s in scans if s[0] == "Seq Scan"], (query, scans)
            assert expected[query] in {name for _, name in scans}, (query, scans)

    client = app.test_client()
    page = client.get(f"{PROJECTS}/?skill=redis&sort=budget&per_page=5")
    assert page.status_code == 200 and page.headers["X-Cache"] == "MISS"  # seeding announced
    budgets = [p["budget"] for p in page.json["data"]]
    assert budgets == sorted(budgets, reverse=True)
    assert all("redis" in p["skills"] for p in page.json["data"])
