"""Request bodies of the projects routes (422 per field), checked before PostgreSQL sees them."""
from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from marketplace import validation
from marketplace.errors import ValidationFailed
from marketplace.validation import clean_text

T = TypeVar("T", bound=BaseModel)

MAX_AMOUNT = 1_000_000_000
CENT = Decimal("0.01")
STATUSES = ("open", "in_progress", "completed", "cancelled")


def _amount(value: Any) -> Decimal:
    """A JSON number (never a boolean or a string), finite, 0 < x <= 1e9, kept to the cent."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if not 0 < value <= MAX_AMOUNT:
        raise ValueError(f"must be greater than 0 and at most {MAX_AMOUNT}")
    cents = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_EVEN)
    if cents <= 0:
        raise ValueError("must be at least 0.01")
    return cents


def _title(value: str) -> str:
    value = clean_text(value).strip()
    if not 3 <= len(value) <= 200:
        raise ValueError("must be 3 to 200 characters")
    return value


def _skills(value: list[str]) -> list[str]:
    """Trimmed and lower-cased, so `skill=Python` finds a project tagged `python`."""
    if len(value) > 20:
        raise ValueError("must have at most 20 skills")
    skills = [clean_text(skill).strip().lower() for skill in value]
    if any(not 1 <= len(skill) <= 50 for skill in skills):
        raise ValueError("each skill must be 1 to 50 characters")
    if len(set(skills)) != len(skills):
        raise ValueError("must not repeat a skill")
    return skills


def parse_deadline(value: Any) -> datetime:
    """ISO 8601 date (midnight UTC that day) or date-time (UTC when no offset is given)."""
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("must be an ISO 8601 date or date-time string")
    clean_text(value)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 date or date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


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
