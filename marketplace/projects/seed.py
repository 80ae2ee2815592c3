"""Demo data for local runs and benchmarks: realistic projects and proposals, loaded with COPY."""
from __future__ import annotations

import io
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg2.extras import execute_values

from marketplace import generations as gen
from marketplace import writes
from marketplace.extensions import db

DEMO_PASSWORD = "demo-password-123"  # noqa: S105 (published demo login, documented)
BATCH = 10_000
STATUSES = ["open"] * 12 + ["in_progress"] * 4 + ["completed"] * 3 + ["cancelled"]
SKILLS = ["python", "flask", "django", "postgresql", "redis", "react", "typescript", "go",
          "rust", "aws", "docker", "kubernetes", "machine-learning", "nlp", "llm", "scraping",
          "data-engineering", "devops", "ios", "android", "figma", "copywriting", "seo", "sql"]
VERBS = ["Build", "Design", "Migrate", "Automate", "Optimise", "Audit", "Prototype", "Fix",
         "Integrate", "Document", "Scale", "Test"]
THINGS = ["a REST API", "an ETL pipeline", "a chatbot", "a dashboard", "a mobile app",
          "a scraper", "a recommendation engine", "the billing service", "a landing page",
          "a data warehouse", "an LLM agent", "the CI pipeline", "a search feature"]
DOMAINS = ["a fintech startup", "an online shop", "a hospital network", "a logistics company",
           "a travel agency", "a news site", "a university", "a game studio", "a law firm",
           "a marketplace", "a restaurant chain", "a charity"]
SENTENCES = ["We need someone who has shipped this before.",
             "The current version is slow and hard to maintain.",
             "Please include tests and a short handover document.",
             "You will work with our in-house team over chat.",
             "Deliverables are reviewed weekly.",
             "Experience with high traffic is a plus.",
             "Budget is negotiable for the right agent.",
             "The code base is about five years old.",
             "We care about accessibility and security."]


def _copy(cur: Any, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    """COPY rows in text format (values never contain tabs, newlines or backslashes)."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(r"\N" if v is None else str(v) for v in row) + "\n")
    buffer.seek(0)
    cur.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)


def _pg_array(items: list[str]) -> str:
    return "{" + ",".join(items) + "}"


def seed_users(count: int, password_hash: str) -> tuple[list[str], list[str]]:
    """demo-client-N and demo-agent-N (half each); existing demo users are reused."""
    clients = max(1, count // 2)
    rows = [(f"demo-client-{i}@example.com", password_hash, f"Demo Client {i}", "client")
            for i in range(1, clients + 1)]
    rows += [(f"demo-agent-{i}@example.com", password_hash, f"Demo Agent {i}", "agent")
             for i in range(1, max(1, count - clients) + 1)]
    with db.transaction() as cur:
        execute_values(cur, "INSERT INTO users (email, password_hash, name, role) VALUES %s "
                       "ON CONFLICT (email) DO NOTHING", rows, page_size=5000)
        cur.execute("SELECT id, role FROM users WHERE email LIKE 'demo-%%@example.com'")
        found = cur.fetchall()
    return ([str(r["id"]) for r in found if r["role"] == "client"],
            [str(r["id"]) for r in found if r["role"] == "agent"])


def _project_batch(rng: random.Random, size: int, clients: list[str], agents: list[str],
                   now: datetime) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    projects, proposals = [], []
    for _ in range(size):
        project_id, status = uuid.uuid4(), rng.choice(STATUSES)
        created = now - timedelta(seconds=rng.randrange(180 * 86_400))
        bidders = rng.sample(agents, k=min(len(agents), rng.choice([0, 0, 1, 2, 3, 5])))
        if status in ("in_progress", "completed") and not bidders:
            bidders = [rng.choice(agents)]
        budget = rng.choice([50, 100, 250, 500, 1000, 2500, 5000, 10_000]) * rng.randint(1, 9)
        description = " ".join(rng.sample(SENTENCES, k=rng.randint(2, 5)))
        deadline = created + timedelta(days=rng.randint(7, 120)) if rng.random() < 0.7 else None
        projects.append((project_id, rng.choice(clients),
                         f"{rng.choice(VERBS)} {rng.choice(THINGS)} for {rng.choice(DOMAINS)}",
                         description, budget, _pg_array(rng.sample(SKILLS, rng.randint(1, 5))),
                         status, deadline, len(bidders), created, created))
        for i, agent in enumerate(bidders):
            accepted = status in ("in_progress", "completed")
            state = ("accepted" if i == 0 else "rejected") if accepted else "pending"
            proposals.append((uuid.uuid4(), project_id, agent, "I have done this before.",
                              round(budget * rng.uniform(0.6, 1.1), 2), state,
                              created + timedelta(hours=i + 1)))
    return projects, proposals


def seed_projects(count: int, clients: list[str], agents: list[str], seed: int,
                  progress: Callable[[int], None]) -> int:
    """Insert `count` projects in COPY batches, one write that makes every cached list stale
    (new projects have no cached detail); returns how many proposals were added."""
    rng, now, proposals_total = random.Random(seed), datetime.now(UTC), 0
    with writes.write() as change:
        cur = change.cur
        cur.execute("SET LOCAL statement_timeout = 0")
        for size in _batches(count):
            projects, proposals = _project_batch(rng, size, clients, agents, now)
            _copy(cur, "projects", "id, owner_id, title, description, budget, skills, status, "
                  "deadline, proposal_count, created_at, updated_at", projects)
            _copy(cur, "proposals", "id, project_id, agent_id, cover_letter, bid_amount, "
                  "status, created_at", proposals)
            proposals_total += len(proposals)
            progress(size)
        change.touch(gen.PROJECTS)
    vacuum_analyze()
    return proposals_total


def vacuum_analyze() -> None:
    """Fresh statistics and visibility map, so the planner uses the indexes (and index-only
    counts) at once instead of after autovacuum's next visit."""
    with db.connection() as conn:
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute("SET statement_timeout = 0")
                cur.execute("VACUUM (ANALYZE) projects, proposals")
                cur.execute("RESET statement_timeout")
        finally:
            conn.autocommit = False


def _batches(count: int) -> Iterator[int]:
    while count > 0:
        yield min(BATCH, count)
        count -= BATCH
