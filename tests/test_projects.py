"""Projects and proposals: shapes, roles, ownership, status rules, accept, rate limit."""
from __future__ import annotations

import threading
import uuid
from typing import Any

from tests.helpers import run_threads
from tests.plugins.projects import PROJECTS

NEW = {"title": "Build a scraper", "description": "Scrape the docs site", "budget": 1500,
       "skills": ["Python", "scraping"], "deadline": "2030-06-01"}
PROJECT_FIELDS = {"id", "title", "description", "budget", "skills", "status", "owner_id",
                  "deadline", "proposal_count", "created_at", "updated_at"}
PROPOSAL_FIELDS = {"id", "project_id", "agent_id", "cover_letter", "bid_amount", "status",
                   "created_at"}


def create(client: Any, headers: dict[str, str], **overrides: Any) -> Any:
    return client.post(f"{PROJECTS}/", json={**NEW, **overrides}, headers=headers)


def propose(client: Any, project_id: str, headers: dict[str, str], bid: Any = 900) -> Any:
    return client.post(f"{PROJECTS}/{project_id}/proposals",
                       json={"cover_letter": "I can do it", "bid_amount": bid}, headers=headers)


def test_client_creates_reads_updates_and_deletes(client: Any, auth: Any) -> None:
    owner = auth.register("client")
    response = create(client, owner["headers"])
    assert response.status_code == 201, response.json
    project = response.json["project"]
    assert response.json["success"] is True and set(project) == PROJECT_FIELDS
    assert project["owner_id"] == owner["user"]["id"] and project["status"] == "open"
    assert project["budget"] == 1500 and project["skills"] == ["python", "scraping"]
    assert project["deadline"] == "2030-06-01T00:00:00Z" and project["proposal_count"] == 0
    assert project["created_at"].endswith("Z")
    uuid.UUID(project["id"])

    detail = client.get(f"{PROJECTS}/{project['id']}")
    assert detail.status_code == 200 and detail.json == {"success": True, "project": project}

    patched = client.patch(f"{PROJECTS}/{project['id']}", headers=owner["headers"],
                           json={"title": "Build a better scraper", "budget": 2000.5,
                                 "deadline": None})
    assert patched.status_code == 200, patched.json
    assert patched.json["project"]["title"] == "Build a better scraper"
    assert patched.json["project"]["budget"] == 2000.5
    assert patched.json["project"]["deadline"] is None

    deleted = client.delete(f"{PROJECTS}/{project['id']}", headers=owner["headers"])
    assert deleted.status_code == 200 and deleted.json == {"success": True}
    assert client.get(f"{PROJECTS}/{project['id']}").status_code == 404


def test_roles_and_ownership(client: Any, auth: Any) -> None:
    owner, other, agent, admin = (auth.register(role) for role in
                                  ("client", "client", "agent", "admin"))
    assert create(client, {}).status_code == 401
    forbidden = create(client, agent["headers"])
    assert forbidden.status_code == 403 and forbidden.json["code"] == "forbidden"
    assert create(client, admin["headers"]).status_code == 201
    project_id = create(client, owner["headers"]).json["project"]["id"]
    url = f"{PROJECTS}/{project_id}"

    for who in (other, agent):
        assert client.patch(url, json={"title": "Mine now"},
                            headers=who["headers"]).status_code == 403
        assert client.delete(url, headers=who["headers"]).status_code == 403
        assert client.get(f"{url}/proposals", headers=who["headers"]).status_code == 403
    assert client.patch(url, json={"title": "Admin edit"}).status_code == 401
    assert client.patch(url, json={"title": "Admin edit"},
                        headers=admin["headers"]).status_code == 200
    assert propose(client, project_id, owner["headers"]).status_code == 403  # agents only
    assert client.get(url).json["project"]["title"] == "Admin edit"
    assert client.delete(url, headers=admin["headers"]).status_code == 200


def test_unknown_and_malformed_ids_are_404(client: Any, auth: Any) -> None:
    owner, agent = auth.register("client"), auth.register("agent")
    missing = str(uuid.uuid4())
    for path in (missing, "not-a-uuid", "1", "123e4567-e89b-12d3-a456-42661417400"):
        assert client.get(f"{PROJECTS}/{path}").status_code == 404
        for response in (
            client.patch(f"{PROJECTS}/{path}", json={"title": "New title"},
                         headers=owner["headers"]),
            client.delete(f"{PROJECTS}/{path}", headers=owner["headers"]),
            propose(client, path, agent["headers"]),
            client.get(f"{PROJECTS}/{path}/proposals", headers=owner["headers"]),
            client.post(f"{PROJECTS}/{path}/proposals/{missing}/accept",
                        headers=owner["headers"]),
        ):
            assert response.status_code == 404, (path, response.json)
            assert response.json["code"] == "not_found"
    project_id = create(client, owner["headers"]).json["project"]["id"]
    accept = client.post(f"{PROJECTS}/{project_id}/proposals/{missing}/accept",
                         headers=owner["headers"])
    assert accept.status_code == 404


def test_proposal_flow_and_accept(client: Any, auth: Any) -> None:
    owner, admin = auth.register("client"), auth.register("admin")
    agents = [auth.register("agent") for _ in range(3)]
    project_id = create(client, owner["headers"]).json["project"]["id"]
    proposals = []
    for i, agent in enumerate(agents):
        response = propose(client, project_id, agent["headers"], bid=100 + i + 0.25)
        assert response.status_code == 201, response.json
        proposal = response.json["proposal"]
        assert set(proposal) == PROPOSAL_FIELDS and proposal["status"] == "pending"
        assert proposal["agent_id"] == agent["user"]["id"]
        assert proposal["bid_amount"] == 100 + i + 0.25
        proposals.append(proposal)
    again = propose(client, project_id, agents[0]["headers"])
    assert again.status_code == 409 and again.json["code"] == "conflict"
    assert client.get(f"{PROJECTS}/{project_id}").json["project"]["proposal_count"] == 3

    for who in (owner, admin):
        listed = client.get(f"{PROJECTS}/{project_id}/proposals", headers=who["headers"])
        assert listed.status_code == 200
        assert [p["id"] for p in listed.json["data"]] == [p["id"] for p in proposals]

    accept_url = f"{PROJECTS}/{project_id}/proposals/{proposals[1]['id']}/accept"
    assert client.post(accept_url, headers=admin["headers"]).status_code == 403  # owner only
    assert client.post(accept_url, headers=agents[1]["headers"]).status_code == 403
    accepted = client.post(accept_url, headers=owner["headers"])
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["project"]["status"] == "in_progress"
    assert accepted.json["proposal"]["status"] == "accepted"
    statuses = {p["id"]: p["status"] for p in client.get(
        f"{PROJECTS}/{project_id}/proposals", headers=owner["headers"]).json["data"]}
    assert statuses == {proposals[0]["id"]: "rejected", proposals[1]["id"]: "accepted",
                        proposals[2]["id"]: "rejected"}
    assert client.post(accept_url, headers=owner["headers"]).status_code == 409
    late = propose(client, project_id, auth.register("agent")["headers"])
    assert late.status_code == 409  # not open any more


def test_status_changes(client: Any, auth: Any) -> None:
    owner, agent = auth.register("client"), auth.register("agent")
    url = f"{PROJECTS}/{create(client, owner['headers']).json['project']['id']}"
    for status in ("completed", "in_progress"):
        response = client.patch(url, json={"status": status}, headers=owner["headers"])
        assert response.status_code == 409, status
    assert client.patch(url, json={"status": "open"},
                        headers=owner["headers"]).status_code == 200  # unchanged
    assert client.patch(url, json={"status": "cancelled"},
                        headers=owner["headers"]).json["project"]["status"] == "cancelled"
    assert client.patch(url, json={"status": "open"},
                        headers=owner["headers"]).status_code == 409
    assert propose(client, url.rsplit("/", 1)[1], agent["headers"]).status_code == 409

    second = create(client, owner["headers"]).json["project"]["id"]
    proposal = propose(client, second, agent["headers"]).json["proposal"]
    client.post(f"{PROJECTS}/{second}/proposals/{proposal['id']}/accept",
                headers=owner["headers"])
    url = f"{PROJECTS}/{second}"
    assert client.patch(url, json={"status": "cancelled"},
                        headers=owner["headers"]).status_code == 409
    done = client.patch(url, json={"status": "completed"}, headers=owner["headers"])
    assert done.status_code == 200 and done.json["project"]["status"] == "completed"


def test_two_concurrent_accepts_one_wins(app: Any, auth: Any, db: Any) -> None:
    client = app.test_client()
    owner = auth.register("client")
    project_id = create(client, owner["headers"]).json["project"]["id"]
    ids = [propose(client, project_id, auth.register("agent")["headers"]).json["proposal"]["id"]
           for _ in range(2)]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def accept(proposal_id: str) -> None:
        own_client = app.test_client()
        barrier.wait(timeout=10)
        response = own_client.post(f"{PROJECTS}/{project_id}/proposals/{proposal_id}/accept",
                                   headers=owner["headers"])
        statuses.append(response.status_code)

    run_threads([threading.Thread(target=accept, args=(pid,)) for pid in ids], timeout=30)
    assert sorted(statuses) == [200, 409]
    with db.cursor() as cur:
        cur.execute("SELECT status, count(*) FROM proposals WHERE project_id = %s "
                    "GROUP BY status ORDER BY status", (project_id,))
        assert cur.fetchall() == [("accepted", 1), ("rejected", 1)]
        cur.execute("SELECT status FROM projects WHERE id = %s", (project_id,))
        assert cur.fetchone() == ("in_progress",)


def test_rate_limit_whole_blueprint_shared_by_instances(make_app: Any, db: Any,
                                                        redis: Any) -> None:
    first = make_app(PROJECTS_RATE_LIMIT="3 per 15 minutes").test_client()
    second = make_app(PROJECTS_RATE_LIMIT="3 per 15 minutes").test_client()
    assert first.get(f"{PROJECTS}/").status_code == 200
    assert second.get(f"{PROJECTS}/featured").status_code == 200
    assert first.get(f"{PROJECTS}/{uuid.uuid4()}").status_code == 404
    limited = second.post(f"{PROJECTS}/", json=NEW)
    assert limited.status_code == 429
    assert limited.json == {"success": False, "code": "rate_limited",
                            "error": "Too many requests, please try again later."}
    assert 1 <= int(limited.headers["Retry-After"]) <= 901  # rounded up
    assert first.get(f"{PROJECTS}/").status_code == 429
