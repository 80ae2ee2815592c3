"""Request bodies validated with pydantic; every failure becomes a 422 naming each field."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from marketplace.errors import ValidationFailed

T = TypeVar("T", bound=BaseModel)

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
