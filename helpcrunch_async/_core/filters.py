r"""Search filters: which fields each search takes, which operators and values each type takes.

This module is pure: it imports neither aiohttp nor asyncio, and reads no clock.

A `Filter` is checked when it is built (a known field, an operator its type
takes, a value of its type) and again by `search_body` against the search it
is used with (a ``customers.*`` field for customer search, a ``chats.*`` field
for chat search; a non-empty list; ``AND`` or ``OR``). Every refusal is an
`InvalidParameterError` that names the field, raised before any request.

The tables follow ``customers-search.md`` and ``chats.md``:

========== ======================== ===============================================
type       operators                value
========== ======================== ===============================================
integer    = != > < >= <=           ``int`` (an id; ``bool`` is not an int)
date       = != > < >= <=           unix seconds as ``int``, or an aware ``datetime``
string     = != ~ !~                ``str`` (``~`` is "contains", ``!~`` "does not")
tags       =                        tag names (``["Lead"]``) or ``[{"name": "Lead"}]``
========== ======================== ===============================================

* A date is never text: the API refuses ``"18 Jun 2020"``, and a naive
  ``datetime`` has no defined instant, so both are refused here.
* ``tagsData =`` means "has all of these tags"; the wire form is always
  ``[{"name": ...}, ...]``, the form every documented example sends. For "any
  of", use one filter per tag and ``comparison="OR"``.
* ``chats.status`` takes a string, sent exactly as given. The examples send
  numeric codes (``"3"``, ``"5"``) whose meaning no vendor text states, so no
  mapping from names to codes is made here.
* Text (a string value, a tag name) must be encodable as UTF-8: a lone
  surrogate (``"\ud800"``, what a bad decode leaves) is refused when the
  filter is built, not when its body is encoded.
* A filter never changes once checked: ``wire`` is a new dict on every read,
  built from the checked value, so nothing unchecked can reach a request.
* Not filterable here, because no field table lists them: ``customers.firstSeen``
  (a sort key only) and ``customers.createdAt`` (named once in a note).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal, TypeGuard, get_args

from helpcrunch_async._core.params import check_int64, check_text
from helpcrunch_async._errors import InvalidParameterError

__all__ = [
    "CHAT_FIELDS",
    "COMPARISONS",
    "CUSTOMER_FIELDS",
    "OPERATORS",
    "Comparison",
    "Filter",
    "Operator",
    "SearchResource",
    "search_body",
    "search_fields",
]

Operator = Literal["=", "!=", ">", "<", ">=", "<=", "~", "!~"]
OPERATORS: tuple[str, ...] = get_args(Operator)
Comparison = Literal["AND", "OR"]
COMPARISONS: tuple[str, ...] = get_args(Comparison)
SearchResource = Literal["customers", "chats"]
FieldType = Literal["integer", "date", "string", "tags"]

_ORDERED = frozenset({"=", "!=", ">", "<", ">=", "<="})
_OPERATORS: dict[FieldType, frozenset[str]] = {
    "integer": _ORDERED,
    "date": _ORDERED,
    "string": frozenset({"=", "!=", "~", "!~"}),
    # The docs' operator table: `!=` is for every type except arrays.
    "tags": frozenset({"="}),
}

_MESSENGER_IDS = ("telegramId", "facebookId", "instagramId", "viberId", "whatsappId")
CUSTOMER_FIELDS: Mapping[str, FieldType] = {
    "customers.id": "integer",
    **{f"customers.{name}": "string" for name in _MESSENGER_IDS},
    "customers.name": "string",
    "customers.email": "string",
    "customers.company": "string",
    "customers.phone": "string",
    "customers.countryCode": "string",
    "customers.city": "string",
    "customers.regionCode": "string",
    "customers.tagsData": "tags",
    "customers.lastSeen": "date",
    "customers.userId": "string",
}
"""The fields of ``POST /customers/search`` and their types."""

CHAT_FIELDS: Mapping[str, FieldType] = {
    "chats.assignee": "integer",
    "chats.agents": "integer",
    "chats.createdAt": "date",
    "chats.updatedAt": "date",
    "chats.department": "integer",
    "chats.status": "string",
    "chats.closedAt": "date",
    "chats.rating": "string",
    "chats.customer": "integer",
    "chats.customer.email": "string",
    "chats.customer.tagsData": "tags",
    "chats.customer.userId": "string",
}
"""The fields of ``POST /chats/search`` and their types."""

_FIELDS: Mapping[SearchResource, Mapping[str, FieldType]] = {
    "customers": CUSTOMER_FIELDS,
    "chats": CHAT_FIELDS,
}
_ALL_FIELDS: Mapping[str, FieldType] = {**CUSTOMER_FIELDS, **CHAT_FIELDS}

WireValue = int | str | list[dict[str, str]]
# The checked value, immutable: an id or a date, a string, or tag names.
_Checked = int | str | tuple[str, ...]


def search_fields(resource: SearchResource) -> Mapping[str, FieldType]:
    """Return the fields ``resource``'s search takes, with their types, in the docs' order."""
    return _FIELDS[resource]


@dataclasses.dataclass(frozen=True, slots=True)
class Filter:
    """One search condition: ``Filter("customers.email", "~", "gmail")``.

    Checked when built: the field must be one a search documents, the operator
    one its type takes and the value of its type (see the module's table);
    anything else is an `InvalidParameterError` naming the field. A date may be
    unix seconds (``int``) or an aware `datetime`; tags may be names or
    ``{"name": ...}`` objects. ``wire`` is the JSON object the API receives.
    """

    field: str
    operator: Operator
    value: Any
    _checked: _Checked = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the filter and keep its checked value, or raise `InvalidParameterError`."""
        name = self.field
        if not isinstance(name, str) or name not in _ALL_FIELDS:
            raise InvalidParameterError(_unknown_field(name))
        kind = _ALL_FIELDS[name]
        allowed = _OPERATORS[kind]
        if not isinstance(self.operator, str) or self.operator not in allowed:
            raise InvalidParameterError(
                f"filter on {name}: operator {self.operator!r} does not apply to {kind} fields"
                f"; use one of {' '.join(op for op in OPERATORS if op in allowed)}"
            )
        object.__setattr__(self, "_checked", _checked_value(name, kind, self.value))

    @property
    def wire(self) -> dict[str, WireValue]:
        """The JSON object the API receives: a new dict on every read, from the checked value."""
        checked = self._checked
        value: WireValue = (
            [{"name": tag} for tag in checked] if isinstance(checked, tuple) else checked
        )
        return {"field": self.field, "operator": self.operator, "value": value}

    @classmethod
    def from_text(cls, field: str, operator: str, text: str) -> Filter:
        """Build a filter from command-line text, converted to the field's type.

        Integers and dates take decimal digits (a date also takes an ISO 8601
        time with its offset, ``2026-12-01T20:00:00+00:00``); tags take names
        separated by commas; strings are taken as they are.
        """
        kind = _ALL_FIELDS.get(field)
        value: Any = text
        if kind in ("integer", "date") and _is_decimal(text):
            value = int(text)
        elif kind == "date":
            value = _date_from_text(field, text)
        elif kind == "integer":
            raise InvalidParameterError(
                f"filter on {field}: {text[:40]!r} is not an id; give decimal digits"
            )
        elif kind == "tags":
            value = [name.strip() for name in text.split(",") if name.strip()]
        return cls(field, operator, value)  # type: ignore[arg-type]  # checked in __post_init__


def search_body(
    where: Iterable[Filter],
    *,
    resource: SearchResource,
    comparison: str,
    sort: str | None,
    order: str,
    offset: int,
    limit: int,
) -> dict[str, Any]:
    """Return the JSON body of a search, checking every filter against ``resource``.

    ``sort``, ``order``, ``offset`` and ``limit`` are passed as already checked
    (the resource checks them with `params`). Raises `InvalidParameterError`
    for an empty or malformed filter list, a filter of the other resource, or
    a ``comparison`` other than ``AND`` / ``OR``.
    """
    filters = _filter_list(where)
    fields = _FIELDS[resource]
    for item in filters:
        if item.field not in fields:
            raise InvalidParameterError(
                f"filter on {item.field}: {resource} search does not take this field"
                f"{_did_you_mean(item.field, fields)}; it takes {', '.join(fields)}"
            )
    if not isinstance(comparison, str) or comparison not in COMPARISONS:
        raise InvalidParameterError(
            f"comparison must be 'AND' or 'OR', got {comparison!r} "
            f"(filters on {', '.join(f.field for f in filters)})"
        )
    body: dict[str, Any] = {
        "filter": [item.wire for item in filters],
        "comparison": comparison,
        "offset": offset,
        "limit": limit,
    }
    if sort is not None:
        body["sort"] = sort
    body["order"] = order
    return body


def _filter_list(where: object) -> list[Filter]:
    if isinstance(where, Filter):
        raise InvalidParameterError(
            f"filters must be a list of Filter, got one Filter on {where.field}; wrap it in [...]"
        )
    if isinstance(where, str | bytes | Mapping) or not isinstance(where, Iterable):
        raise InvalidParameterError(f"filters must be a list of Filter, got {where!r}")
    filters = list(where)
    if not filters:
        raise InvalidParameterError("filters must not be empty: give at least one Filter")
    for item in filters:
        if not isinstance(item, Filter):
            raise InvalidParameterError(f"filters must be Filter objects, got {item!r}")
    return filters


def _unknown_field(name: object) -> str:
    """Say that ``name`` is not searchable: what it may be, and what each search takes."""
    if not isinstance(name, str):
        return f"a filter field must be a name such as customers.email, got {name!r}"
    searches = [r for r in _FIELDS if name.startswith(f"{r}.")] or list(_FIELDS)
    takes = "; ".join(f"{r} search takes {', '.join(_FIELDS[r])}" for r in searches)
    known = [field for r in searches for field in _FIELDS[r]]
    return f"filter field {name[:60]!r} is not searchable{_did_you_mean(name, known)}; {takes}"


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _date_from_text(name: str, text: str) -> int:
    """Return unix seconds from command-line text: digits, or ISO 8601 with an offset."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidParameterError(
            f"filter on {name}: {text[:40]!r} is not a date; give unix seconds (1767225600) "
            "or an ISO 8601 time with its offset (2026-01-01T00:00:00+00:00 or ...Z)"
        ) from None
    if moment.utcoffset() is None:
        raise InvalidParameterError(
            f"filter on {name}: {text[:40]!r} has no offset, so it names no single instant; "
            f"add one, for example {moment.isoformat()}+00:00 for UTC"
        )
    return _timestamp(name, moment)


def _checked_value(name: str, kind: FieldType, value: object) -> _Checked:
    if kind == "integer":
        if not _is_int(value):
            raise InvalidParameterError(
                f"filter on {name}: the value must be an integer id, got {value!r}"
            )
        return check_int64(f"filter on {name}: the value", value)
    if kind == "date":
        return _timestamp(name, value)
    if kind == "string":
        if not isinstance(value, str):
            raise InvalidParameterError(
                f"filter on {name}: the value must be a string, got {value!r}"
            )
        return check_text(f"filter on {name}: the value", value)
    return _tags(name, value)


def _timestamp(name: str, value: object) -> int:
    if _is_int(value):
        return check_int64(f"filter on {name}: the date", value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidParameterError(
                f"filter on {name}: a naive datetime has no defined instant; "
                "give it a tzinfo (datetime.UTC) or pass unix seconds"
            )
        return math.floor(value.timestamp())
    raise InvalidParameterError(
        f"filter on {name}: a date must be unix seconds (int) or an aware datetime, got {value!r}"
    )


def _tags(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, list | tuple):
        raise InvalidParameterError(
            f"filter on {name}: tags must be a list of names or of {{'name': ...}}, got {value!r}"
        )
    tags: list[str] = []
    for tag in value:
        tag_name = tag.get("name") if isinstance(tag, Mapping) and len(tag) == 1 else tag
        if not isinstance(tag_name, str) or not tag_name:
            raise InvalidParameterError(
                f"filter on {name}: each tag must be a non-empty name or {{'name': name}}, "
                f"got {tag!r}"
            )
        tags.append(check_text(f"filter on {name}: the tag {len(tags) + 1}", tag_name))
    if not tags:
        raise InvalidParameterError(f"filter on {name}: give at least one tag")
    return tuple(tags)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_decimal(text: str) -> bool:
    body = text[1:] if text[:1] in "+-" else text
    return body.isascii() and body.isdigit()
