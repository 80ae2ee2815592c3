"""schemathesis over the whole OpenAPI document, in process, with real tokens and real rows.

Every operation gets positive and negative examples (bounded and derandomized so CI is fast
and stable), and every check runs, none excluded: every response must be a non-5xx that the
document describes, data that breaks the schema must be refused, and data the schema allows
must be accepted (`positive_data_acceptance`; the one deliberate exception, a listing search
with no word to look up, is held to its exact answer by tests/schemathesis_checks.py). Two
cases in three aim at a real project (and a real pending proposal) so the owner paths, not
only 404s, are exercised. tests/test_fuzz_cli.py runs the schemathesis CLI, stateful phase
included, against a gunicorn instance.
"""
from __future__ import annotations

import zlib
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS
from schemathesis.config import SchemathesisConfig

from marketplace.openapi.document import build_document
from tests.helpers import NO_RATE_LIMITS
from tests.plugins.auth import AuthActions, bearer
from tests.plugins.projects import make_project, make_user
from tests.schemathesis_checks import config_for_listing

# Rate limits out of the way (429 is still documented, and covered in tests/test_auth_limits.py
# and tests/test_projects.py); everything else is the testing configuration.
UNLIMITED = {**NO_RATE_LIMITS,
             # The machine's Redis is shared with other suites: a slow reply must not open
             # the breaker (a documented 503) here; outages are tests/test_faults_redis.py's.
             "REDIS_SOCKET_TIMEOUT": 2.0, "REDIS_CONNECT_TIMEOUT": 2.0}
MAX_EXAMPLES = 30


@pytest.fixture
def fuzz_app(make_app, db, redis):
    return make_app(**UNLIMITED)


@pytest.fixture
def users(fuzz_app) -> dict[str, dict[str, Any]]:
    auth = AuthActions(fuzz_app)
    return {"admin": auth.register("admin"), "agent": auth.register("agent")}


# The document depends on code only (tests/test_openapi.py checks that the app serves exactly
# this), so it loads at collection; the app under test is handed to every call. (Loading it
# from a fixture with `schemathesis.pytest.from_fixture` fails on pytest 9: `_nodeid`.)
schema = schemathesis.openapi.from_dict(
    build_document(), config=SchemathesisConfig.from_dict({"operations": [config_for_listing()]}))
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                max_examples=MAX_EXAMPLES)


def fresh_headers(app, operation_id: str, users) -> dict[str, str]:
    """A newly minted token for this case, so a fuzzed logout revokes only its own."""
    from marketplace.auth.tokens import issue_tokens

    role = "agent" if operation_id == "createProposal" else "admin"
    with app.app_context():
        tokens = issue_tokens(users[role]["user"])
    token = tokens["refresh_token" if operation_id == "refresh" else "access_token"]
    return bearer(token)


def aim_at_real_rows(case, db, users) -> None:
    """Point a positive case at a fresh open project with a pending proposal (2 cases in 3)."""
    params = case.path_parameters or {}
    if "project_id" not in params or not case.meta.generation.mode.is_positive:
        return
    if zlib.crc32(repr(sorted(params.items())).encode()) % 3 == 0:
        return
    project_id = make_project(db, users["admin"]["user"]["id"])
    with db.cursor() as cur:
        cur.execute("INSERT INTO proposals (project_id, agent_id, cover_letter, bid_amount) "
                    "VALUES (%s, %s, 'I can do it', 500) RETURNING id",
                    (project_id, make_user(db, "agent")))
        proposal_id = str(cur.fetchone()[0])
        cur.execute("UPDATE projects SET proposal_count = 1 WHERE id = %s", (project_id,))
    params["project_id"] = project_id
    if "proposal_id" in params:
        params["proposal_id"] = proposal_id


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case, fuzz_app, users, db):
    aim_at_real_rows(case, db, users)
    headers = {}
    if case.operation.definition.raw.get("security"):
        headers = fresh_headers(fuzz_app, case.operation.definition.raw["operationId"], users)
    case.operation.schema.app = fuzz_app  # the checks' own probes (ignored_auth) go here too
    case.call_and_validate(headers=headers, app=fuzz_app)


def test_every_check_runs_on_every_operation():
    """No check is switched off anywhere (the listing's config only widens its statuses)."""
    names = {check.__name__ for check in CHECKS.get_all()}
    assert {"positive_data_acceptance", "negative_data_rejection",
            "only_unsearchable_searches_refused"} <= names
    for operation in schema.get_all_operations():
        config = schema.config.checks_config_for(operation=operation.ok())
        assert all(config.get_by_name(name=name).enabled for name in names), operation
