"""Limits the body validators enforce in plain functions, which pydantic cannot see.

Each entry replaces the generated schema of one field (or adds keywords to a whole model).
A refinement says exactly what the validator accepts, no more and no less: a request the
document calls valid is accepted, one it calls invalid is refused (schemathesis checks both
ways, and tests/test_openapi.py compares each pattern with its validator on tricky input).
The route-table test checks that every entry names a real field, so renaming a field cannot
leave one behind.

Text rules become `pattern`s, written with explicit character classes that ECMA-262, Python
and Rust regular expressions read alike (`\\s` and `.` differ between them):

- no text field may hold a control character other than newline and tab
  (marketplace/validation.py), so every pattern is made of `TEXT` characters;
- a trimmed field is checked after `str.strip()`: its length bounds apply to what lies
  between the first and the last `EDGE` (non-blank) character, and blanks (`SPACE`) may
  surround it.
"""
from __future__ import annotations

from typing import Any

from marketplace.auth.schemas import EMAIL_ADDRESS, EMAIL_MAX_LENGTH
from marketplace.projects.schemas import DEADLINE, MAX_AMOUNT, MAX_SKILLS, MIN_AMOUNT, STATUSES

# The characters clean_text refuses (Unicode category Cc but tab and newline), as a class body.
REFUSED = "\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f"
# What `str.strip()` removes that clean_text lets through: tab, newline and Unicode's spaces.
BLANKS = "\\t\\n \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
TEXT = f"[^{REFUSED}]"
SPACE = f"[{BLANKS}]"
EDGE = f"[^{REFUSED}{BLANKS}]"
NO_CONTROL = f"^{TEXT}*$"
NO_NUL = "^[^\\u0000]*$"

CONTROL_RULE = ("No control characters (Unicode category Cc) other than newline and tab, NUL "
                "included.")


def trimmed(low: int, high: int) -> str:
    """The pattern of text that is `low` to `high` characters long once stripped (0: may be
    empty or blank)."""
    if high < max(low, 1):
        raise ValueError("high must be at least 1 and at least low")
    inner = f"{TEXT}{{{max(low - 2, 0)},{high - 2}}}" if high >= 2 else None
    core = EDGE if inner is None else (
        f"{EDGE}{inner}{EDGE}" if low >= 2 else f"{EDGE}(?:{inner}{EDGE})?")
    if low == 0:
        core = f"(?:{core})?"
    return f"^{SPACE}*{core}{SPACE}*$"


def trimmed_text(low: int, high: int, sent: int | None, what: str = "") -> dict[str, Any]:
    """A string field checked after trimming; `sent` caps the length as sent, blanks included."""
    schema: dict[str, Any] = {"type": "string", "pattern": trimmed(low, high), "description": (
        f"{what}Surrounding whitespace is trimmed; then {low} to {high} characters. "
        + CONTROL_RULE)}
    if sent is not None:
        schema["maxLength"] = sent
    return schema


AMOUNT = {"type": "number", "minimum": MIN_AMOUNT, "maximum": MAX_AMOUNT,
          "description": "A JSON number (not a string, not a boolean), rounded half-even to "
                         "the cent."}
DEADLINE_SCHEMA = {
    "type": "string", "pattern": f"^{DEADLINE}$",
    "description": "An ISO 8601 calendar date (`2030-06-01`: midnight UTC that day) or "
                   "date-time (`2030-06-01T12:00:00Z`; `T`, `t` or a space before the time; "
                   "seconds and up to 9 decimals optional; no offset means UTC, else `Z`, "
                   "`z` or `+hh:mm`), years 1000 to 9998. Answered in UTC."}
TITLE = trimmed_text(3, 200, 1000)
DESCRIPTION = {"type": "string", "maxLength": 10_000, "pattern": NO_CONTROL,
               "description": "Kept as sent. " + CONTROL_RULE}
SKILLS = {"type": "array", "maxItems": MAX_SKILLS, "items": trimmed_text(1, 50, 200),
          "description": "Each skill trimmed, then lower-cased; a skill given twice (`Python`, "
                         "`python`) is kept once."}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _secret(low: int, high: int) -> dict[str, Any]:
    return {"type": "string", "minLength": low, "maxLength": high, "pattern": NO_NUL,
            "description": "Any characters but NUL."}


FIELDS: dict[tuple[str, str], dict[str, Any]] = {
    ("RegisterIn", "email"): {
        "type": "string", "maxLength": EMAIL_MAX_LENGTH,
        "pattern": f"^{SPACE}*{EMAIL_ADDRESS}{SPACE}*$",
        "description": "An e-mail address: an ASCII dot-atom before the `@`, two or more "
                       "labels of letters, digits and inner hyphens after it (the last ending "
                       "with a letter); surrounding whitespace trimmed. Compared "
                       "case-insensitively; stored lower-cased."},
    ("RegisterIn", "password"): _secret(8, 128),
    ("RegisterIn", "name"): trimmed_text(1, 100, 1000),
    ("LoginIn", "email"): {**_secret(1, EMAIL_MAX_LENGTH),
                           "description": "Compared as registration stores it (trimmed, "
                                          "lower-cased). Any characters but NUL."},
    ("LoginIn", "password"): _secret(1, 128),
    ("PasswordChangeIn", "current_password"): _secret(1, 128),
    ("PasswordChangeIn", "new_password"): _secret(8, 128),
    ("LogoutIn", "refresh_token"): {
        **_secret(1, 4096),
        "description": "A refresh token of the caller, revoked with the access token. "
                       "Anything else (not a refresh token, another account's, already "
                       "revoked) is a 401 and revokes nothing."},
    ("ProjectIn", "title"): TITLE,
    ("ProjectIn", "description"): DESCRIPTION,
    ("ProjectIn", "budget"): AMOUNT,
    ("ProjectIn", "skills"): SKILLS,
    ("ProjectIn", "deadline"): _nullable(DEADLINE_SCHEMA),
    ("ProjectPatch", "title"): TITLE,
    ("ProjectPatch", "description"): DESCRIPTION,
    ("ProjectPatch", "budget"): AMOUNT,
    ("ProjectPatch", "skills"): SKILLS,
    ("ProjectPatch", "deadline"): _nullable(DEADLINE_SCHEMA),
    ("ProjectPatch", "status"): {
        "type": "string", "enum": list(STATUSES),
        "description": "Only open → cancelled and in_progress → completed (the current "
                       "status again changes nothing); any other change of status is a 409.",
    },
    ("ProposalIn", "cover_letter"): {"type": "string", "minLength": 1, "maxLength": 5000,
                                     "pattern": NO_CONTROL,
                                     "description": "Kept as sent. " + CONTROL_RULE},
    ("ProposalIn", "bid_amount"): AMOUNT,
}

MODELS: dict[str, dict[str, Any]] = {
    "ProjectPatch": {"minProperties": 1,
                     "description": "Any of the fields; `deadline: null` removes the deadline."},
}


def refine(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The model's generated schema with the validators' limits written in."""
    properties = schema.get("properties", {})
    for (model, field), refined in FIELDS.items():
        if model != name:
            continue
        generated = properties[field]
        kept = {k: generated[k] for k in ("title", "default") if generated.get(k) is not None}
        properties[field] = {**kept, **refined}
    schema.update(MODELS.get(name, {}))
    return schema
