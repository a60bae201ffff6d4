"""Search bodies (``POST /customers/search``, ``POST /chats/search``): parse, check, compare.

This module is pure: no sockets, no clock. ``parse_search`` turns a decoded JSON body
into a ``SearchQuery`` or a list of problems, each ``(path, message)`` with the path of
the offending key (``filter[1].value``), as the new docs' 400 entries name them.

The emulator's semantics (the reference leaves several open; these are its choices):

- Field types: Integer and Date fields take a JSON number (int or float; ``bool`` is
  not a number, a numeric string is refused, so is a text date); String fields take a
  string; ``tagsData`` takes a non-empty list of names or of ``{"name": ...}`` objects.
- Operators: ``=`` and ``!=`` on every type but tags take only ``=``; ``> < >= <=`` on
  Integer and Date; ``~`` (contains) and ``!~`` (does not contain) on String. String
  comparisons are case-sensitive. ``tagsData =`` means the customer has ALL the tags.
- Nulls: a null value matches no ``= > < >= <= ~``; ``!=`` and ``!~`` are exactly the
  negations of ``=`` and ``~``, so a null matches them.
- ``comparison`` is ``AND`` (the default when missing) or ``OR``, in any case; ``order``
  is ``asc`` or ``desc`` in any case; ``offset`` >= 0 (default 0); ``limit`` 1..100
  (default 100); a missing or empty ``filter`` matches everything.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

Kind = Literal["int", "date", "string", "tags"]
OPERATORS = ("=", "!=", ">", "<", ">=", "<=", "~", "!~")
KIND_OPERATORS: dict[str, tuple[str, ...]] = {
    "int": ("=", "!=", ">", "<", ">=", "<="),
    "date": ("=", "!=", ">", "<", ">=", "<="),
    "string": ("=", "!=", "~", "!~"),
    "tags": ("=",),
}
MAX_LIMIT = 100

CUSTOMER_FIELDS: dict[str, Kind] = {
    "customers.id": "int",
    "customers.telegramId": "string",
    "customers.facebookId": "string",
    "customers.instagramId": "string",
    "customers.viberId": "string",
    "customers.whatsappId": "string",
    "customers.name": "string",
    "customers.email": "string",
    "customers.company": "string",
    "customers.phone": "string",
    "customers.countryCode": "string",
    "customers.city": "string",
    "customers.regionCode": "string",
    "customers.tagsData": "tags",
    "customers.firstSeen": "date",
    "customers.lastSeen": "date",
    "customers.userId": "string",
}
CUSTOMER_SORTS = ("customers.firstSeen", "customers.lastSeen")
CHAT_FIELDS: dict[str, Kind] = {
    "chats.id": "int",
    "chats.assignee": "int",
    "chats.agents": "int",
    "chats.createdAt": "date",
    "chats.updatedAt": "date",
    "chats.lastMessageAt": "date",
    "chats.department": "int",
    "chats.status": "string",
    "chats.closedAt": "date",
    "chats.rating": "string",
    "chats.customer": "int",
    "chats.customer.email": "string",
    "chats.customer.tagsData": "tags",
    "chats.customer.userId": "string",
}
CHAT_SORTS = (
    "chats.createdAt",
    "chats.lastCustomerMessageAt",
    "chats.lastMessageAt",
    "chats.closedAt",
)

_NOT_VALID = "This value is not valid."
_NUMERIC = "This value should be of type numeric."


@dataclass(frozen=True, slots=True)
class Condition:
    """One checked filter: field, operator and the value (tags as a frozenset of names)."""

    field: str
    operator: str
    value: Any


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A checked search body with its defaults filled in."""

    conditions: tuple[Condition, ...] = ()
    any_of: bool = False
    sort: str | None = None
    descending: bool = False
    offset: int = 0
    limit: int = MAX_LIMIT


def parse_search(
    body: Any, fields: dict[str, Kind], sorts: tuple[str, ...]
) -> SearchQuery | list[tuple[str, str]]:
    """Check a decoded search body against a resource's fields and sorts."""
    if not isinstance(body, dict):
        return [("body", "This value should be of type object.")]
    problems: list[tuple[str, str]] = []
    raw_filters = body.get("filter")
    conditions: list[Condition] = []
    if raw_filters is not None and not isinstance(raw_filters, list):
        problems.append(("filter", "This value should be of type array."))
    for number, raw in enumerate(raw_filters if isinstance(raw_filters, list) else []):
        parsed = _condition(f"filter[{number}]", raw, fields)
        if isinstance(parsed, Condition):
            conditions.append(parsed)
        else:
            problems.append(parsed)
    comparison = body.get("comparison", "AND")
    if not isinstance(comparison, str) or comparison.upper() not in ("AND", "OR"):
        problems.append(("comparison", _NOT_VALID))
    sort = body.get("sort")
    if sort is not None and sort not in sorts:
        problems.append(("sort", _NOT_VALID))
    order = body.get("order", "asc")
    if not isinstance(order, str) or order.lower() not in ("asc", "desc"):
        problems.append(("order", _NOT_VALID))
    offset, limit = body.get("offset", 0), body.get("limit", MAX_LIMIT)
    problems += _paging_problems(offset, limit)
    if problems:
        return problems
    return SearchQuery(
        conditions=tuple(conditions),
        any_of=str(comparison).upper() == "OR",
        sort=sort,
        descending=str(order).lower() == "desc",
        offset=offset,
        limit=limit,
    )


def _paging_problems(offset: Any, limit: Any) -> list[tuple[str, str]]:
    problems = []
    if not _is_int(offset) or offset < 0:
        problems.append(("offset", "This value should be greater than or equal to 0."))
    if not _is_int(limit) or not 1 <= limit <= MAX_LIMIT:
        problems.append(("limit", f"This value should be between 1 and {MAX_LIMIT}."))
    return problems


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _condition(path: str, raw: Any, fields: dict[str, Kind]) -> Condition | tuple[str, str]:
    if not isinstance(raw, dict):
        return (path, "This value should be of type object.")
    field, operator, value = raw.get("field"), raw.get("operator"), raw.get("value")
    if not isinstance(field, str) or not field:
        return (f"{path}.field", "This value should not be blank.")
    kind = fields.get(field)
    if kind is None:
        return (f"{path}.field", _NOT_VALID)
    if operator not in KIND_OPERATORS[kind]:
        return (f"{path}.operator", _NOT_VALID)
    if kind == "tags":
        value = _tag_names(value)
    problem = _value_problem(kind, value)
    if problem is not None:
        return (f"{path}.value", problem)
    return Condition(field, operator, value)


def _value_problem(kind: str, value: Any) -> str | None:
    if kind in ("int", "date"):
        return None if _is_number(value) else _NUMERIC
    if kind == "string":
        return None if isinstance(value, str) else "This value should be of type string."
    return None if value is not None else "This value should be a non-empty list of tags."


def _tag_names(value: Any) -> frozenset[str] | None:
    if not isinstance(value, list) or not value:
        return None
    names: set[str] = set()
    for item in value:
        if isinstance(item, str):
            names.add(item)
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            names.add(item["name"])
        else:
            return None
    return frozenset(names)


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
    "~": lambda actual, wanted: isinstance(actual, str) and wanted in actual,
}


def matches(condition: Condition, actual: Any) -> bool:
    """Return whether a field's actual value (None for null) satisfies ``condition``."""
    op, wanted = condition.operator, condition.value
    if op in ("!=", "!~"):
        return not matches(
            Condition(condition.field, op[1:] if op == "!~" else "=", wanted), actual
        )
    if actual is None:
        return False
    if isinstance(wanted, frozenset):
        return wanted <= frozenset(actual)
    if isinstance(actual, frozenset | list | tuple):
        # A list-valued field (chats.agents) matches when one of its members does.
        return any(matches(condition, member) for member in actual)
    return bool(_COMPARE[op](actual, wanted))


def interval(conditions: tuple[Condition, ...], field: str) -> tuple[int, int] | None:
    """Return ``[low, high)`` of the integers that every range condition on ``field`` allows.

    None when no condition on ``field`` is a range (``= > < >= <=``). Nulls never match
    a range, and every real id or timestamp is >= 0, so ``low`` starts at 0.
    """
    low, high, seen = 0, 1 << 62, False
    for condition in conditions:
        if condition.field != field or condition.operator in ("!=", "~", "!~"):
            continue
        seen = True
        value = condition.value
        operator = condition.operator
        if operator in (">", "="):
            low = max(low, math.floor(value) + 1 if operator == ">" else math.ceil(value))
        if operator in ("<", "="):
            high = min(high, math.ceil(value) if operator == "<" else math.floor(value) + 1)
        if operator == ">=":
            low = max(low, math.ceil(value))
        if operator == "<=":
            high = min(high, math.floor(value) + 1)
    return (low, max(low, high)) if seen else None
