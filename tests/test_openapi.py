"""The OpenAPI document: served, valid 3.1, and in step with the app's route table."""
from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

import pytest
from schemathesis.specs.openapi.adapter.validators import validate_v3

from config import Config
from marketplace import errors, keys
from marketplace.openapi.document import build_document
from marketplace.openapi.models import ERROR_CODES
from marketplace.openapi.refinements import FIELDS, MODELS
from marketplace.projects.query import _PARSERS

CONTRACT_ERRORS = {400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503}
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
# How config.py and gunicorn.conf.py read a variable: env.get("X"), _int(env, "X"),
# environ.get("X"), environ["X"].
_ENV_READ = re.compile(r"""(?:\benv\.get\(|_int\(env,\s*|_float\(env,\s*|environ\.get\(|environ\[)
                           ["']([A-Z][A-Z0-9_]+)["']""", re.VERBOSE)


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


# ---- docs/api.md, the contract in words, and the code it describes ----------------------

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "api.md"
_CELL = re.compile(r"`([^`]*)`")


def contract_table(name: str) -> list[list[str]]:
    """The rows of the table under `<!-- table: name -->` in docs/api.md, cells stripped,
    header and separator rows left out."""
    lines = CONTRACT.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"<!-- table: {name} -->") + 1
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    assert len(rows) > 2, f"no table under the {name} marker"
    return rows[2:]


def ticked(cell: str) -> list[str]:
    """The `code` spans of a cell."""
    return _CELL.findall(cell)


def test_the_contracts_endpoints_are_the_documents_operations():
    """docs/api.md's endpoint table and the OpenAPI document list the same operations (method
    and path, both directions), with the same success status, the same error statuses (the
    413, 415 and 500 every route may answer aside), and `anyone` exactly where no credentials
    are needed."""
    document = build_document()
    operations = {(path, method): operation for path, item in document["paths"].items()
                  for method, operation in item.items()}
    listed = {}
    for method, path, who, success, failures in contract_table("endpoints"):
        [method], [path] = ticked(method), ticked(path)
        key = (path, method.lower())
        assert key not in listed, f"{method} {path} is listed twice"
        listed[key] = (who, int(success), {int(code) for code in failures.split(",") if code})
    assert set(listed) - set(operations) == set(), "listed in docs/api.md, not in the document"
    assert set(operations) - set(listed) == set(), "in the document, not listed in docs/api.md"
    for key, (who, success, failures) in listed.items():
        statuses = {int(status) for status in operations[key]["responses"]}
        assert {s for s in statuses if 200 <= s < 300} == {success}, key
        assert {s for s in statuses if s >= 400} - {413, 415, 500} == failures, key
        assert (who == "anyone") == (not operations[key].get("security")), key


def test_the_endpoint_table_parser_sees_a_missing_row(tmp_path, monkeypatch):
    """A row taken out of the table is noticed (the parser reads the table, not the page)."""
    text = CONTRACT.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if "`/api/v1/stats/online`" in line)
    edited = tmp_path / "api.md"
    edited.write_text(text.replace(row + "\n", ""), encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "CONTRACT", edited)
    with pytest.raises(AssertionError, match=r"not listed in docs/api\.md"):
        test_the_contracts_endpoints_are_the_documents_operations()


def _statuses_of_codes() -> dict[str, set[int]]:
    """Every error code the service answers with, and the statuses it comes with."""
    found: dict[str, set[int]] = collections.defaultdict(set)
    pending = [errors.APIError]
    while pending:
        cls = pending.pop()
        found[cls.code].add(cls.status)
        pending.extend(cls.__subclasses__())
    for status, (code, _) in errors.HTTP_CODES.items():
        found[code].add(status)
    return found


def test_the_contracts_error_codes_are_the_services():
    statuses = _statuses_of_codes()
    rows = [(int(status), ticked(code)[0]) for status, code, _ in contract_table("error codes")]
    assert {code for _, code in rows} == set(ERROR_CODES) == set(statuses)
    for status, code in rows:
        assert status in statuses[code], (status, code)


def test_the_contracts_redis_keys_are_keys_py():
    prefixes = [ticked(prefix)[0] for prefix, _, _ in contract_table("redis keys")]
    assert prefixes == list(keys.PREFIXES)


def test_the_contracts_settings_are_every_variable_the_service_reads():
    """Every environment variable config.py and gunicorn.conf.py read is in the settings
    table, nothing else is, and each plain default is the one the table gives."""
    root = CONTRACT.parents[1]
    read = set()
    for source in (root / "config.py", root / "gunicorn.conf.py"):
        read |= set(_ENV_READ.findall(source.read_text(encoding="utf-8")))
    rows = {name: default for names, default, _ in contract_table("settings")
            for name in ticked(names)}
    assert set(rows) == read
    defaults = Config({})
    for name, cell in rows.items():
        value = getattr(defaults, name, None)
        if isinstance(value, (int, float, str)):
            assert f"`{value}`" in cell, (name, value, cell)


def test_the_readmes_configuration_table_names_the_same_settings():
    """The README's configuration table (an operator's first stop) has every setting of the
    contract's table and no other."""
    readme = (CONTRACT.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    in_readme = {name for line in section.splitlines() if line.startswith("| `")
                 for name in ticked(line.split("|")[1])}
    in_contract = {name for names, _, _ in contract_table("settings") for name in ticked(names)}
    assert in_readme == in_contract


def _command_name(usage: str) -> str:
    """`create-admin EMAIL --name NAME` -> `create-admin`; `db upgrade` stays as it is."""
    words = []
    for word in usage.split():
        if word[0] in "[-" or word.isupper():
            break
        words.append(word)
    return " ".join(words)


def test_the_contracts_commands_are_the_apps(app):
    """The commands table lists exactly the project's own flask commands."""
    listed = [_command_name(ticked(usage)[0]) for usage, _, _ in contract_table("commands")]
    own = set()
    for name, command in app.cli.commands.items():
        subcommands = getattr(command, "commands", None)
        own |= {f"{name} {sub}" for sub in subcommands} if subcommands else {name}
    assert sorted(listed) == sorted(own)
