"""Request bodies of the auth routes, validated with pydantic; errors become 422 per field."""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from marketplace.validation import clean_text, parse_body

T = TypeVar("T", bound=BaseModel)

# An e-mail address as the service accepts it at registration, one regular expression that
# the OpenAPI document repeats as the field's `pattern` (so both say exactly the same): an
# ASCII dot-atom before the @ (RFC 5322's atext, dots between runs of it), then two or more
# domain labels of letters, digits and inner hyphens, 63 characters at most each, the last
# one ending with a letter. At most 254 characters as sent, surrounding whitespace trimmed,
# stored lower-cased. No mail is ever sent, so nothing checks that the domain exists.
EMAIL_MAX_LENGTH = 254
_ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_LAST_LABEL = "(?:[A-Za-z]|[A-Za-z0-9][A-Za-z0-9-]{0,61}[A-Za-z])"
EMAIL_ADDRESS = _ATEXT + "+(?:[.]" + _ATEXT + "+)*@(?:" + _LABEL + "[.])+" + _LAST_LABEL
_EMAIL = re.compile(EMAIL_ADDRESS)


def _email(value: str) -> str:
    if len(value) > EMAIL_MAX_LENGTH:
        raise ValueError(f"must be at most {EMAIL_MAX_LENGTH} characters")
    address = clean_text(value).strip()
    if not _EMAIL.fullmatch(address):
        raise ValueError("must be a valid e-mail address")
    return address.lower()


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


Email = Annotated[str, Field(strict=True), AfterValidator(_email)]
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
