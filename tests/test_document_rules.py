"""The document's field rules say exactly what the validators accept: each body field's schema
(and each listing filter's) is compared with the server's own validation on values drawn to
sit on the edges: whitespace of every kind around and inside, control characters, lengths at
the limits, e-mail and deadline look-alikes, amounts around the cent. No server, no database:
the validators and the schemas, value by value."""
from __future__ import annotations

import re
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from marketplace.auth.schemas import LoginIn, LogoutIn, PasswordChangeIn, RegisterIn
from marketplace.errors import ValidationFailed
from marketplace.openapi.document import build_document
from marketplace.openapi.refinements import BLANKS, REFUSED
from marketplace.projects.query import _PARSERS
from marketplace.projects.schemas import ProjectIn, ProjectPatch, ProposalIn

RULES = settings(max_examples=400, derandomize=True, database=None, deadline=None,
                 suppress_health_check=list(HealthCheck))
SCHEMAS = build_document()["components"]["schemas"]
MODELS: dict[str, type[BaseModel]] = {model.__name__: model for model in (
    RegisterIn, LoginIn, PasswordChangeIn, LogoutIn, ProjectIn, ProjectPatch, ProposalIn)}
# A valid body of each model, so that only the field under test can be wrong.
VALID = {
    "RegisterIn": {"email": "ada@example.com", "password": "correct-horse-9", "name": "Ada"},
    "LoginIn": {"email": "ada@example.com", "password": "x"},
    "PasswordChangeIn": {"current_password": "x", "new_password": "correct-horse-9"},
    "LogoutIn": {"refresh_token": "x"},
    "ProjectIn": {"title": "Build", "budget": 10},
    "ProjectPatch": {"title": "Build"},
    "ProposalIn": {"cover_letter": "Hire me", "bid_amount": 10},
}

# Characters that sit on the rules' edges: every blank str.strip() removes, the refused
# control characters, letters whose lower case is longer (İ), an astral character, and
# the punctuation of e-mail addresses and ISO dates.
BLANK = [chr(c) for c in range(0x110000) if chr(c).isspace()]
CONTROL = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\r", "\x1b", "\x1f", "\x7f", "\x85", "\x9f"]
EDGY = [*BLANK, *CONTROL, "İ", "ß", "é", "\U0001f600", "\ufeff", "\u200b", "a", "Z", "0", "9",
        "-", ".", "@", "_", "+", "'", "`", "{", "~", '"', "(", ",", ":", "T", "t", "z", "Z",
        "/", "\\", "[", "]"]
edgy_text = st.text(st.sampled_from(EDGY) | st.characters(codec="utf-8"), max_size=24)


def server_accepts(model: str, field: str, value: Any) -> bool:
    """Whether the model's validation accepts `value` for `field` (the rest of the body valid)."""
    body = {**VALID[model], field: value}
    try:
        parsed = MODELS[model].model_validate(body)
        if model == "ProjectPatch":
            parsed.changes()
    except (ValidationError, ValidationFailed):
        return False
    return True


def document_accepts(model: str, field: str, value: Any) -> bool:
    schema = SCHEMAS[model]["properties"][field]
    return jsonschema_rs.validator_for(schema, validate_formats=True).is_valid(value)


def mutated(pattern: str) -> st.SearchStrategy[str]:
    """Values of `pattern`, some of them with one character inserted, replaced or dropped."""
    def mutate(data: tuple[str, int, str, int]) -> str:
        value, at, char, how = data
        at = at % (len(value) + 1)
        return [value, value[:at] + char + value[at:], value[:at] + char + value[at + 1:],
                value[:at] + value[at + 1:]][how]

    valid = st.from_regex(re.compile(pattern), fullmatch=True)
    return st.tuples(valid, st.integers(0, 300), st.sampled_from(EDGY), st.integers(0, 3)).map(
        mutate)


def compare(model: str, field: str, value: Any) -> None:
    assert document_accepts(model, field, value) == server_accepts(model, field, value), (
        model, field, value)


TEXT_FIELDS = [("RegisterIn", "name"), ("ProjectIn", "title"), ("ProjectPatch", "title"),
               ("ProjectIn", "description"), ("ProposalIn", "cover_letter"),
               ("RegisterIn", "password"), ("LoginIn", "email"), ("LoginIn", "password"),
               ("PasswordChangeIn", "current_password"), ("PasswordChangeIn", "new_password"),
               ("LogoutIn", "refresh_token")]


@pytest.mark.parametrize(("model", "field"), TEXT_FIELDS)
@RULES
@given(data=st.data())
def test_text_fields_follow_the_document(model: str, field: str, data: Any) -> None:
    pattern = SCHEMAS[model]["properties"][field]["pattern"]
    value = data.draw(edgy_text | mutated(pattern) | st.integers() | st.none())
    compare(model, field, value)


@pytest.mark.parametrize(("model", "field"), [("RegisterIn", "name"), ("ProjectIn", "title"),
                                              ("ProjectIn", "description"),
                                              ("ProposalIn", "cover_letter")])
def test_lengths_at_their_limits_follow_the_document(model: str, field: str) -> None:
    for core in (0, 1, 2, 3, 4, 99, 100, 101, 199, 200, 201, 4999, 5000, 5001, 9999, 10_000,
                 10_001):
        for pad in ("", " ", "\u3000" * 400, " " * 900):
            compare(model, field, pad + "x" * core + pad)
            compare(model, field, pad + "x " * (core // 2) + pad)


@RULES
@given(value=edgy_text | mutated(SCHEMAS["RegisterIn"]["properties"]["email"]["pattern"])
       | st.emails().map(str) | st.builds("{}@{}".format, edgy_text, edgy_text))
def test_registration_email_follows_the_document(value: str) -> None:
    compare("RegisterIn", "email", value)


def test_email_examples_follow_the_document() -> None:
    for value in ["ada@example.com", "  Ada@Example.COM ", "a@b.c", "t#}`}/ww32@ii.test",
                  "a@localhost", "a@b", "a@1.2", "a@b.1", "a..b@c.de", ".a@c.de", "a.@c.de",
                  '"a b"@c.de', "a@[127.0.0.1]", "a@-b.cd", "a@b-.cd", "a@b--c.de",
                  "a@xn--p1ai.xn--p1ai", "用户@例子.广告", "a@" + "b" * 63 + ".cd",
                  "a@" + "b" * 64 + ".cd", "a" * 242 + "@example.com", "a" * 243 + "@example.com",
                  " " * 10 + "a" * 232 + "@example.com", "a@b.c\n", "a@b.c\r", "\u00a0a@b.cd"]:
        compare("RegisterIn", "email", value)


deadline_values = st.one_of(
    mutated(SCHEMAS["ProjectIn"]["properties"]["deadline"]["anyOf"][0]["pattern"]),
    st.dates().map(str),
    st.datetimes(timezones=st.timezones() | st.none()).map(
        lambda moment: moment.isoformat(sep=" " if moment.second % 2 else "T")),
    edgy_text, st.integers(), st.none())


@pytest.mark.parametrize("model", ["ProjectIn", "ProjectPatch"])
@RULES
@given(value=deadline_values)
def test_deadlines_follow_the_document(model: str, value: Any) -> None:
    compare(model, "deadline", value)


def test_deadline_examples_follow_the_document() -> None:
    for value in ["2030-06-01", "2030-06-01T12:00:00Z", "2030-06-01t12:00z", "2030-06-01 12:00",
                  "2000-02-29", "1900-02-29", "2100-02-29", "2400-02-29T00:00+01:00",
                  "1000-01-01T00:00:00+23:59", "0999-12-31", "9998-12-31T23:59:59.999999999-23:59",
                  "9999-01-01", "2030-06-01T24:00:00Z", "2030-06-01T23:59:60Z", "20300601",
                  "2030-W01-1", "2030-06-01T12", "2030-06-01T12:00:00.1234567890Z",
                  "2030-06-01T12:00:00+05:30:15", "2030-13-01", "2030-04-31"]:
        compare("ProjectIn", "deadline", value)


amounts = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(),
                    st.sampled_from([0, 0.005, 0.0050001, 0.009999999999999998, 0.01, 0.011,
                                     5e-324, 1e9, 1_000_000_000.0000001, 1e9 + 0.01, 10**20,
                                     True, False, "10", None]),
                    st.floats(0, 0.02), st.floats(999_999_999, 1_000_000_001))


@pytest.mark.parametrize(("model", "field"), [("ProjectIn", "budget"), ("ProjectPatch", "budget"),
                                              ("ProposalIn", "bid_amount")])
@RULES
@given(value=amounts)
def test_amounts_follow_the_document(model: str, field: str, value: Any) -> None:
    compare(model, field, value)


skill_lists = st.lists(edgy_text | mutated(
    SCHEMAS["ProjectIn"]["properties"]["skills"]["items"]["pattern"]), max_size=22)


@pytest.mark.parametrize("model", ["ProjectIn", "ProjectPatch"])
@RULES
@given(value=skill_lists | st.just(["Python", "python ", "PYTHON"]) | st.just(["İ" * 50]))
def test_skills_follow_the_document(model: str, value: list[str]) -> None:
    compare(model, "skills", value)


def test_repeated_skills_are_kept_once() -> None:
    parsed = ProjectIn.model_validate({**VALID["ProjectIn"],
                                       "skills": ["Python", " python", "SQL", "python"]})
    assert parsed.skills == ["python", "sql"]


LISTING = {p["name"]: p["schema"] for p in
           build_document()["paths"]["/api/v1/projects"]["get"]["parameters"]}


@pytest.mark.parametrize("name", ["q", "skill"])
@RULES
@given(data=st.data())
def test_listing_filters_follow_the_document(name: str, data: Any) -> None:
    value = data.draw(edgy_text | mutated(LISTING[name]["pattern"]))
    try:
        _PARSERS[name](value)
        accepted = True
    except ValueError:
        accepted = False
    assert jsonschema_rs.validator_for(LISTING[name]).is_valid(value) == accepted, (name, value)


def test_the_pattern_classes_are_the_validators_characters() -> None:
    """BLANKS is what str.strip() removes and clean_text lets through; REFUSED what it refuses."""
    from marketplace.validation import clean_text

    refused = re.compile(f"[{REFUSED}]")
    blank = re.compile(f"[{BLANKS}]")
    for code in range(0x110000):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue  # a lone surrogate cannot reach a validator: the body is invalid JSON
        try:
            clean_text(char)
            kept = True
        except ValueError:
            kept = False
        assert bool(refused.match(char)) == (not kept), hex(code)
        assert bool(blank.match(char)) == (kept and char.isspace()), hex(code)
