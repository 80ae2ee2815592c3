"""Limits the body validators enforce in plain functions, which pydantic cannot see.

Each entry replaces the generated schema of one field (or adds keywords to a whole model).
A refinement may only narrow what the model's own types say, never widen it; the route-table
test checks that every entry names a real field, so renaming a field cannot leave one behind.
Strings are trimmed before their length is checked, and no text field may contain a control
character other than newline and tab (marketplace/validation.py).
"""
from __future__ import annotations

from typing import Any

from marketplace.projects.schemas import MAX_AMOUNT, STATUSES

NO_NUL = ("Must not contain control characters (Unicode category Cc, NUL included) other "
          "than newline and tab, nor lone surrogates.")
AMOUNT = {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_AMOUNT,
          "description": "A JSON number (not a string, not a boolean), kept to the cent."}
DEADLINE = {"type": "string", "maxLength": 64,
            "anyOf": [{"format": "date"}, {"format": "date-time"}],
            "description": "ISO 8601 date (midnight UTC) or date-time (UTC without an offset)."}
TITLE = {"type": "string", "minLength": 3, "maxLength": 200, "description": NO_NUL}
SKILLS = {"type": "array", "maxItems": 20, "uniqueItems": True,
          "items": {"type": "string", "minLength": 1, "maxLength": 50},
          "description": "Distinct skills, trimmed and lower-cased. " + NO_NUL}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


FIELDS: dict[tuple[str, str], dict[str, Any]] = {
    ("RegisterIn", "email"): {"type": "string", "format": "email", "maxLength": 254,
                              "description": "Compared case-insensitively; stored lower-cased."},
    ("RegisterIn", "password"): {"type": "string", "minLength": 8, "maxLength": 128,
                                 "description": NO_NUL},
    ("PasswordChangeIn", "current_password"): {"type": "string", "minLength": 1,
                                                "maxLength": 128, "description": NO_NUL},
    ("PasswordChangeIn", "new_password"): {"type": "string", "minLength": 8, "maxLength": 128,
                                            "description": NO_NUL},
    ("RegisterIn", "name"): {"type": "string", "minLength": 1, "maxLength": 100,
                             "description": NO_NUL},
    ("ProjectIn", "title"): TITLE,
    ("ProjectIn", "description"): {"type": "string", "maxLength": 10_000,
                                   "description": NO_NUL},
    ("ProjectIn", "budget"): AMOUNT,
    ("ProjectIn", "skills"): SKILLS,
    ("ProjectIn", "deadline"): _nullable(DEADLINE),
    ("ProjectPatch", "title"): TITLE,
    ("ProjectPatch", "description"): {"type": "string", "maxLength": 10_000,
                                      "description": NO_NUL},
    ("ProjectPatch", "budget"): AMOUNT,
    ("ProjectPatch", "skills"): SKILLS,
    ("ProjectPatch", "deadline"): _nullable(DEADLINE),
    ("ProjectPatch", "status"): {
        "type": "string", "enum": list(STATUSES),
        "description": "Only open → cancelled and in_progress → completed; any other change "
                       "of status is a 409.",
    },
    ("ProposalIn", "cover_letter"): {"type": "string", "minLength": 1, "maxLength": 5000,
                                     "description": NO_NUL},
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
