"""The listing query string: checked (400 per field), in one canonical form for the cache."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from werkzeug.datastructures import MultiDict

from marketplace.errors import InvalidRequest
from marketplace.projects.schemas import STATUSES
from marketplace.validation import clean_text

SORTS = ("newest", "budget")
_DIGITS = re.compile(r"^[0-9]{1,7}$")


@dataclass(frozen=True)
class ListQuery:
    """Every parameter with its default filled in, so equal queries have equal cache keys."""

    page: int = 1
    per_page: int = 20
    sort: str = "newest"
    status: str | None = None
    skill: str | None = None
    q: str | None = None

    def canonical(self) -> str:
        """`name=value` pairs sorted by name, absent filters left out, encoded as
        `urlencode` would: only the free-text `q` and `skill` can need quoting (the other
        values were checked to be digits or one of a few words)."""
        pairs = [f"page={self.page}", f"per_page={self.per_page}"]
        if self.q is not None:
            pairs.append(f"q={quote_plus(self.q)}")
        if self.skill is not None:
            pairs.append(f"skill={quote_plus(self.skill)}")
        pairs.append(f"sort={self.sort}")
        if self.status is not None:
            pairs.append(f"status={self.status}")
        return "&".join(pairs)


def _integer(raw: str, low: int, high: int) -> int:
    if not _DIGITS.match(raw) or not low <= int(raw) <= high:
        raise ValueError(f"must be an integer from {low} to {high}")
    return int(raw)


def _text(raw: str, low: int, high: int) -> str:
    value = clean_text(raw).strip()
    if not low <= len(value) <= high:
        raise ValueError(f"must be {low} to {high} characters")
    return value


def _choice(raw: str, choices: tuple[str, ...]) -> str:
    if raw not in choices:
        raise ValueError(f"must be one of: {', '.join(choices)}")
    return raw


_PARSERS: dict[str, Any] = {
    "page": lambda raw: _integer(raw, 1, 100_000),
    "per_page": lambda raw: _integer(raw, 1, 100),
    "sort": lambda raw: _choice(raw, SORTS),
    "status": lambda raw: _choice(raw, STATUSES),
    "skill": lambda raw: _text(raw, 1, 50).lower(),
    "q": lambda raw: _text(raw, 0, 200) or None,  # an empty search box means no search
}


def parse_list_query(args: MultiDict[str, str]) -> ListQuery:
    """The validated query, or a 400 naming each bad, unknown or repeated parameter."""
    values: dict[str, Any] = {}
    details: dict[str, str] = {}
    for name in args:
        raws = args.getlist(name)
        if name not in _PARSERS:
            details[name[:50]] = "is not a known parameter"
        elif len(raws) > 1:
            details[name] = "must be given at most once"
        else:
            try:
                values[name] = _PARSERS[name](raws[0])
            except ValueError as exc:
                details[name] = str(exc)
    if details:
        raise InvalidRequest(details=details)
    return ListQuery(**values)
