"""Listing and search: filters, sorts, pagination, featured; at 100,000 projects every query
shape (filters, sorts, deep pages) uses an index (EXPLAIN of the exact statement the store
runs), and a search with nothing to look up is refused unscanned; the seed-demo command."""
from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from marketplace.generations import PROJECTS as GENERATION
from marketplace.projects import store
from marketplace.projects.query import ListQuery
from tests.helpers import count_rows
from tests.plugins.projects import PROJECTS, cache_keys

# Searches PostgreSQL cannot look up in the index: only -excluded words, only stop words,
# only punctuation, an OR with a negation, only the replacement character U+FFFD.
UNSEARCHABLE = ["-foo -bar", "the", "the and of", "!!!", "-", '""', "foo or -bar",
                "-\"web scraper\"", "\ufffd"]


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


@pytest.mark.parametrize("q", UNSEARCHABLE)
def test_a_search_with_nothing_to_look_up_is_400_and_never_cached(
        client: Any, catalogue: dict[str, str], redis: Any, q: str) -> None:
    for _ in range(2):  # the second is no HIT: nothing was stored
        response = client.get(f"{PROJECTS}/", query_string={"q": q, "sort": "budget"})
        assert response.status_code == 400, (q, response.json)
        assert response.json["code"] == "invalid_request"
        assert set(response.json["details"]) == {"q"}
        assert "X-Cache" not in response.headers
    assert cache_keys(redis) == []
    assert listed(client, "q=scraper%20-flask") == [catalogue["scraper"]]  # one term is enough


def _plan_nodes(plan: Any) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _plan_nodes(child)
    return nodes


FILTERS = {"status": "open", "skill": "redis", "q": "api"}  # open: 60 % of the table
# (page, per_page): the first pages, deep ones (offsets near the table's 100,000 rows) and
# the largest page the API accepts.
PAGES = [(1, 20), (1, 100), (500, 100), (999, 100), (1000, 100), (100_000, 100)]


def every_query_shape() -> list[ListQuery]:
    """Both sorts, every combination of the filters, shallow and deep pages."""
    return [ListQuery(page=page, per_page=per_page, sort=sort,
                      **{name: FILTERS[name] for name in names})
            for sort in ("newest", "budget")
            for size in range(len(FILTERS) + 1)
            for names in itertools.combinations(FILTERS, size)
            for page, per_page in PAGES]


def _expected_index(query: ListQuery | str) -> str:
    """The index of the most selective filter, else the one of the sort order."""
    if query == "featured":
        return "projects_status_budget_idx"
    assert isinstance(query, ListQuery)
    if query.q:
        return "projects_search_idx"
    if query.skill:
        return "projects_skills_idx"
    order = "created" if query.sort == "newest" else "budget"
    return f"projects_status_{order}_idx" if query.status else f"projects_{order}_idx"


def _explain(cur: Any, explain: str, sql: str, params: Any) -> list[dict[str, Any]]:
    cur.execute(explain + sql, params)
    raw = cur.fetchone()[0]
    plan = raw if isinstance(raw, list) else json.loads(raw)
    return _plan_nodes(plan[0]["Plan"])


def _scans(nodes: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(n["Node Type"], n.get("Index Name")) for n in nodes
            if n.get("Relation Name") == "projects" or n.get("Index Name")]


def test_seed_demo_and_every_query_shape_uses_an_index(app: Any, db: Any) -> None:
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

    statements = {query: store.list_statement(query) for query in every_query_shape()}
    statements["featured"] = (store.FEATURED_SQL, (store.FEATURED_LIMIT, GENERATION))
    with db.cursor() as cur:
        for query, (sql, params) in statements.items():
            scans = _scans(_explain(cur, "EXPLAIN (FORMAT JSON) ", sql, params))
            assert not [s for s in scans if s[0] == "Seq Scan"], (query, scans)
            assert _expected_index(query) in {name for _, name in scans}, (query, scans)
        for q in UNSEARCHABLE:  # planned to nothing: no row of projects is ever read
            sql, params = store.list_statement(ListQuery(q=q, page=999, per_page=100))
            nodes = _explain(cur, "EXPLAIN (ANALYZE, FORMAT JSON) ", sql, params)
            assert any(node.get("One-Time Filter") == "false" for node in nodes), q
            assert not [node for node in nodes if node.get("Relation Name") == "projects"
                        and node["Actual Loops"] > 0], (q, _scans(nodes))

    client = app.test_client()
    page = client.get(f"{PROJECTS}/?skill=redis&sort=budget&per_page=5")
    assert page.status_code == 200 and page.headers["X-Cache"] == "MISS"  # seeding announced
    budgets = [p["budget"] for p in page.json["data"]]
    assert budgets == sorted(budgets, reverse=True)
    assert all("redis" in p["skills"] for p in page.json["data"])
