"""The OpenAPI document: served, valid 3.1, and in step with the app's route table."""
from __future__ import annotations

import re

from schemathesis.specs.openapi.adapter.validators import validate_v3

from marketplace.openapi.document import build_document
from marketplace.openapi.refinements import FIELDS, MODELS
from marketplace.projects.query import _PARSERS

CONTRACT_ERRORS = {400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503}
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def route_table(app) -> set[tuple[str, str]]:
    """(path, method) of every rule under /api/v1, trailing slash and HEAD/OPTIONS aside."""
    table = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or not rule.rule.startswith("/api/v1"):
            continue
        path = _CONVERTER.sub(r"{\1}", rule.rule).rstrip("/")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            table.add((path, method.lower()))
    return table


def documented(document) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items() for method in item}


def test_document_is_served_as_json(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_json() == build_document()


def test_document_is_valid_openapi_3_1():
    document = build_document()
    assert document["openapi"] == "3.1.0"
    validate_v3(document)  # raises on any violation of the OpenAPI 3.1 meta-schema


def test_every_route_is_documented_and_every_documented_route_exists(app):
    routes, paths = route_table(app), documented(build_document())
    assert routes - paths == set(), "routes missing from the OpenAPI document"
    assert paths - routes == set(), "documented operations the app does not serve"


def test_adding_an_undocumented_route_breaks_the_route_table_test(app):
    @app.get("/api/v1/undocumented")
    def undocumented():
        return {}

    assert route_table(app) - documented(build_document()) == {("/api/v1/undocumented", "get")}


def test_every_operation_documents_the_errors_it_can_return():
    document = build_document()
    seen = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            statuses = {int(s) for s in operation["responses"]}
            seen |= statuses
            assert {413, 415, 500} <= statuses, (method, path)
            if operation.get("security"):
                assert 401 in statuses, (method, path)
            if "requestBody" in operation:
                assert {400, 422} <= statuses, (method, path)
            if "{project_id}" in path:
                assert 404 in statuses, (method, path)
            if path.startswith("/api/v1/projects"):
                assert 429 in statuses and "Retry-After" in operation["responses"]["429"][
                    "headers"], (method, path)
    assert seen >= CONTRACT_ERRORS


def test_error_envelope_is_one_component_with_optional_details():
    error = build_document()["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"success", "error", "code"}
    assert error["properties"]["details"]["type"] == "object"


def test_request_bodies_come_from_the_validation_models():
    schemas = build_document()["components"]["schemas"]
    assert schemas["RegisterIn"]["additionalProperties"] is False
    assert schemas["RegisterIn"]["properties"]["role"]["enum"] == ["client", "agent"]
    assert schemas["ProposalIn"]["properties"]["cover_letter"]["maxLength"] == 5000
    assert schemas["LogoutIn"]["required"] == ["refresh_token"]


def test_refinements_name_real_fields():
    from marketplace.auth import schemas as auth_schemas
    from marketplace.projects import schemas as project_schemas

    models = {**vars(auth_schemas), **vars(project_schemas)}
    for model, field in FIELDS:
        assert field in models[model].model_fields, (model, field)
    for model in MODELS:
        assert model in models


def test_listing_parameters_match_the_query_parser():
    operation = build_document()["paths"]["/api/v1/projects"]["get"]
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == set(_PARSERS)
