"""Request bodies of the auth routes, validated with pydantic; errors become 422 per field."""
from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from marketplace.validation import clean_text, parse_body

T = TypeVar("T", bound=BaseModel)


def _email(value: str) -> str:
    value = value.strip()
    if len(value) > 254:
        raise ValueError("must be at most 254 characters")
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise ValueError("must be a valid e-mail address") from None
    return checked.normalized.lower()


def _name(value: str) -> str:
    value = clean_text(value).strip()
    if not 1 <= len(value) <= 100:
        raise ValueError("must be 1 to 100 characters")
    return value


def _no_nul(value: str) -> str:
    """PostgreSQL refuses NUL in text: a 422, never a 500 from the driver."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _password(value: str) -> str:
    if not 8 <= len(value) <= 128:
        raise ValueError("must be 8 to 128 characters")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Email = Annotated[str, Field(strict=True, max_length=1000), AfterValidator(_email)]
Password = Annotated[str, Field(strict=True), AfterValidator(_password)]
Name = Annotated[str, Field(strict=True, max_length=1000), AfterValidator(_name)]


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    name: Name
    role: Literal["client", "agent"] = "client"


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(strict=True, min_length=1, max_length=254), AfterValidator(_no_nul)]
    password: Annotated[str, Field(strict=True, min_length=1, max_length=128),
                        AfterValidator(_no_nul)]


class PasswordChangeIn(BaseModel):
    """`POST /auth/password`: the current password, and a new one that follows the register
    rules."""

    model_config = ConfigDict(extra="forbid")

    current_password: Annotated[str, Field(strict=True, min_length=1, max_length=128),
                                AfterValidator(_no_nul)]
    new_password: Password


class LogoutIn(BaseModel):
    """Optional body of logout: the refresh token to revoke along with the access token."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: Annotated[str, Field(strict=True, min_length=1, max_length=4096),
                             AfterValidator(_no_nul)]


_MESSAGES = {"literal_error": "must be one of: client, agent"}


def parse(model: type[T], data: dict[str, Any]) -> T:
    """The validated body, or a 422 whose `details` name each bad field."""
    return parse_body(model, data, _MESSAGES)
