"""A schemathesis check of this project, loaded by tests/test_fuzz.py (in process) and by the
CLI run (SCHEMATHESIS_HOOKS=tests.schemathesis_checks).

The one schema-valid request the server refuses on purpose is a listing search with no word
to look up (`q=the`, `q=-foo`, punctuation alone): a 400 `invalid_request` with
`details.q`, because such a search would read every row, and no JSON Schema can say which
words PostgreSQL ignores (docs/api.md, the `q` parameter's description). The fuzzing config
therefore lets `positive_data_acceptance` see a 400 from `listProjects`; this check makes
sure that such a 400 is that refusal and nothing else.
"""
from __future__ import annotations

import schemathesis

from marketplace.projects.store import UNSEARCHABLE

LISTING = "listProjects"
# positive_data_acceptance's statuses for the listing: its defaults, and 400 (see above).
LISTING_ACCEPTS = ["2xx", "3xx", 400, 401, 403, 404, 409, 429, "5xx"]


@schemathesis.check
def only_unsearchable_searches_refused(ctx, response, case) -> None:
    """A valid listing request answered 400 must be a search with no word to look up."""
    meta = case.meta
    if (response.status_code != 400 or meta is None or not meta.generation.mode.is_positive
            or case.operation.definition.raw.get("operationId") != LISTING):
        return
    body = response.json()
    if body.get("code") != "invalid_request" or body.get("details") != {"q": UNSEARCHABLE}:
        raise AssertionError(f"a valid listing request was refused for another reason: {body}")


def config_for_listing() -> dict:
    """The schemathesis config entry that goes with the check above."""
    return {"include-operation-id": LISTING,
            "checks": {"positive_data_acceptance": {"expected-statuses": LISTING_ACCEPTS}}}
