"""The CSV form of each kind of record: its columns, in order, and how each is read.

Every kind follows the customers' rules (see `cells`): nested objects are
flattened with a dot (``customer.email``), each timestamp is unix seconds plus
an ISO 8601 UTC copy (``createdAt``, ``createdAtUtc``), a list of people is
two cells of values joined by ``|`` (``agents.id``, ``agents.name``; see
`join_tags` for the escaping), nulls are empty cells.

This module is pure: it turns values into text and does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from helpcrunch_async._core.cells import (
    CSV_COLUMNS,
    cell,
    customer_values,
    iso_utc,
    join_tags,
    timestamp,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["CSV_FORMS", "CsvForm"]

# One column: its name and how it is read from the record's JSON (camelCase builtins).
_Column = tuple[str, "Callable[[dict[str, Any]], Any]"]


@dataclass(frozen=True, slots=True)
class CsvForm:
    """The columns of one kind and the values of one record in them."""

    columns: tuple[str, ...]
    values: Callable[[dict[str, Any]], tuple[Any, ...]]

    def cells(self, record: Any, *, formula_guard: bool = True) -> tuple[str, ...]:
        """Return the record's cells (a Struct or the API's dict), guarded unless told not to."""
        raw = msgspec.to_builtins(record)
        return tuple(cell(value, formula_guard=formula_guard) for value in self.values(raw))


def _dig(raw: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(raw, dict):
            return None
        raw = raw.get(key)
    return raw


def _field(name: str) -> list[_Column]:
    path = tuple(name.split("."))
    return [(name, lambda raw: _dig(raw, path))]


def _moment(name: str) -> list[_Column]:
    path = tuple(name.split("."))
    return [
        (name, lambda raw: timestamp(_dig(raw, path))),
        (f"{name}Utc", lambda raw: iso_utc(timestamp(_dig(raw, path)))),
    ]


def _people(name: str, *keys: str) -> list[_Column]:
    def joined(key: str) -> Callable[[dict[str, Any]], Any]:
        def read(raw: dict[str, Any]) -> str | None:
            people = raw.get(name) or []
            # One documented variant sends a single object instead of a list.
            if isinstance(people, dict):
                people = [people]
            values = ["" if p.get(key) is None else str(p.get(key)) for p in people]
            return join_tags(values) if values else None

        return read

    return [(f"{name}.{key}", joined(key)) for key in keys]


def _form(*groups: list[_Column]) -> CsvForm:
    columns = [column for group in groups for column in group]
    readers = tuple(read for _, read in columns)
    return CsvForm(
        tuple(name for name, _ in columns),
        lambda raw: tuple(read(raw) for read in readers),
    )


_CHATS = _form(
    _field("id"),
    _field("status"),
    _moment("createdAt"),
    _moment("lastMessageAt"),
    _moment("lastCustomerMessageAt"),
    _moment("closedAt"),
    _field("closedBy"),
    _field("rating"),
    _field("readByAgent"),
    _field("readByCustomer"),
    _field("createdWith"),
    _moment("snoozedUntil"),
    _field("lastMessageId"),
    _field("lastMessageText"),
    _field("lastCommunicatedAgentId"),
    _field("applicationId"),
    _field("customer.id"),
    _field("customer.name"),
    _field("customer.email"),
    _field("customer.userId"),
    _field("assignee.id"),
    _field("assignee.name"),
    _field("assignee.email"),
    _field("department.id"),
    _field("department.name"),
    _people("agents", "id", "name"),
    _field("notes"),
)

_MESSAGES = _form(
    _field("id"),
    _field("chat"),
    _moment("createdAt"),
    _moment("updatedAt"),
    _field("from"),
    _field("type"),
    _field("text"),
    _field("read"),
    _field("edited"),
    _field("broadcastType"),
    _field("agent.id"),
    _field("agent.name"),
    _field("agent.email"),
    _field("agent.role"),
)

_AGENTS = _form(_field("id"), _field("name"), _field("email"), _field("role"))

_DEPARTMENTS = _form(_field("id"), _field("name"), _people("agents", "id", "name"))

CSV_FORMS: dict[str, CsvForm] = {
    "customers": CsvForm(CSV_COLUMNS, customer_values),
    "chats": _CHATS,
    "messages": _MESSAGES,
    "agents": _AGENTS,
    "departments": _DEPARTMENTS,
}
