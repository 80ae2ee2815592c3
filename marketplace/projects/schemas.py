"""Request bodies of the projects routes (422 per field), checked before PostgreSQL sees them."""
from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from marketplace import validation
from marketplace.errors import ValidationFailed
from marketplace.validation import clean_text

T = TypeVar("T", bound=BaseModel)

MIN_AMOUNT = 0.01  # a cent: what is stored (numeric(12, 2)) is never 0
MAX_AMOUNT = 1_000_000_000
CENT = Decimal("0.01")
STATUSES = ("open", "in_progress", "completed", "cancelled")
MAX_SKILLS = 20


def _amount(value: Any) -> Decimal:
    """A JSON number (never a boolean or a string), finite, 0.01 <= x <= 1e9 as sent (the
    document's `minimum` and `maximum`), then rounded half-even to the cent."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if not MIN_AMOUNT <= value <= MAX_AMOUNT:
        raise ValueError(f"must be at least {MIN_AMOUNT} and at most {MAX_AMOUNT}")
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def _title(value: str) -> str:
    value = clean_text(value).strip()
    if not 3 <= len(value) <= 200:
        raise ValueError("must be 3 to 200 characters")
    return value


def _skills(value: list[str]) -> list[str]:
    """Trimmed (1 to 50 characters), then lower-cased, so `skill=Python` finds a project
    tagged `python`; a skill given twice (`Python`, `python `) is kept once, in first place."""
    if len(value) > MAX_SKILLS:
        raise ValueError(f"must have at most {MAX_SKILLS} skills")
    trimmed = [clean_text(skill).strip() for skill in value]
    if any(not 1 <= len(skill) <= 50 for skill in trimmed):
        raise ValueError("each skill must be 1 to 50 characters")
    return list(dict.fromkeys(skill.lower() for skill in trimmed))


# A deadline as the service accepts it, one regular expression that the OpenAPI document
# repeats as the field's `pattern`: an ISO 8601 calendar date (a real one: leap years
# included), optionally followed by a time (`T`, `t` or a space; minutes, optional seconds
# and up to 9 decimals) and an optional offset (`Z`, `z` or +hh:mm). Years 1000 to 9998, so
# that every accepted moment, converted to UTC, is a year from 1 to 9999 as stored and sent.
_YEAR = "(?:[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_LEAP_YEAR = "(?:[1-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[13579][26])00)"
_DATE = ("(?:" + _YEAR + "-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
         "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
         "|" + _LEAP_YEAR + "-02-29)")
_TIME = ("[Tt ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:[.][0-9]{1,9})?)?"
         "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?")
DEADLINE = _DATE + "(?:" + _TIME + ")?"
_DEADLINE = re.compile(DEADLINE)


def parse_deadline(value: Any) -> datetime:
    """ISO 8601 date (midnight UTC that day) or date-time (UTC when no offset is given)."""
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("must be an ISO 8601 date or date-time string")
    clean_text(value)
    if not _DEADLINE.fullmatch(value):
        raise ValueError("must be an ISO 8601 date or date-time, years 1000 to 9998")
    text = value.upper()  # `t` and `z` as RFC 3339 allows; fromisoformat wants capitals
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


Amount = Annotated[Decimal, BeforeValidator(_amount)]
Title = Annotated[str, Field(strict=True, max_length=1000), AfterValidator(_title)]
Description = Annotated[str, Field(strict=True, max_length=10_000), AfterValidator(clean_text)]
Skills = Annotated[list[Annotated[str, Field(strict=True, max_length=200)]],
                   Field(strict=True, max_length=100), AfterValidator(_skills)]
Deadline = Annotated[datetime, BeforeValidator(parse_deadline)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectIn(_Body):
    title: Title
    description: Description = ""
    budget: Amount
    skills: Skills = []
    deadline: Deadline | None = None


class ProjectPatch(_Body):
    title: Title | None = None
    description: Description | None = None
    budget: Amount | None = None
    skills: Skills | None = None
    deadline: Deadline | None = None
    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]

    def changes(self) -> dict[str, Any]:
        """The fields the client sent; only `deadline` may be set to null (no deadline)."""
        sent = self.model_dump(exclude_unset=True)
        for name, value in sent.items():
            if value is None and name != "deadline":
                raise ValidationFailed(details={name: "must not be null"})
        if not sent:
            raise ValidationFailed(details={"body": "must change at least one field"})
        return sent


class ProposalIn(_Body):
    cover_letter: Annotated[str, Field(strict=True, min_length=1, max_length=5000),
                            AfterValidator(clean_text)]
    bid_amount: Amount


_MESSAGES = {
    "list_type": "must be a list of strings",
    "literal_error": f"must be one of: {', '.join(STATUSES)}",
    "too_long": "has too many items",
}


def parse_body(model: type[T], data: dict[str, Any]) -> T:
    """The validated body, or a 422 whose `details` name each bad field."""
    return validation.parse_body(model, data, _MESSAGES)
