"""Request bodies validated with pydantic; every failure becomes a 422 naming each field.

Text from clients may hold newlines and tabs, nothing else of Unicode's control characters
(category Cc): a carriage return, an escape sequence or a C1 code is never part of a
title or a name, would reach logs and terminals as it is, and costs six bytes per
character in every JSON response that carries it. NUL is one of them (PostgreSQL refuses
it), and a lone surrogate cannot be encoded as UTF-8 at all.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from marketplace.errors import ValidationFailed

T = TypeVar("T", bound=BaseModel)

# Category Cc is U+0000-U+001F and U+007F-U+009F; tab (U+0009) and newline (U+000A) are kept.
_REFUSED_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
TEXT_RULE = "must not contain control characters (other than newline and tab) or lone surrogates"


def clean_text(value: str) -> str:
    """`value` unchanged, or a ValueError when it holds what no text field may hold."""
    if _REFUSED_TEXT.search(value):
        raise ValueError(TEXT_RULE)
    return value


# Sentences for pydantic's error types; anything else uses the validator's own message.
COMMON_MESSAGES = {
    "missing": "is required",
    "string_type": "must be a string",
    "string_too_long": "is too long",
    "string_too_short": "must not be empty",
    "extra_forbidden": "is not a known field",
}


def parse_body(model: type[T], data: dict[str, Any],
               messages: Mapping[str, str] | None = None) -> T:
    """The validated body, or a 422 whose `details` name each bad field (first error wins)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        wording = {**COMMON_MESSAGES, **(messages or {})}
        details: dict[str, str] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "body"
            if field not in details:
                details[field] = wording.get(error["type"]) or str(
                    error.get("ctx", {}).get("error") or error["msg"]
                )
        raise ValidationFailed(details=details) from None
