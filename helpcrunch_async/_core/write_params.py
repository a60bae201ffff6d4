"""Every write's arguments, checked, and turned into the body the API's docs require.

This module is pure: no I/O, no clock. Each function raises `InvalidParameterError` naming the
argument before any request, or returns the JSON-ready body:

* customer fields go out camelCase (``user_id`` -> ``userId``); a field left out
  is `OMIT` (not sent), ``None`` sends null (clears it);
* ``custom_data`` is a mapping of property name to a value the API can store
  (str, int within 64 bits, finite float, bool, None) and goes out as the
  ``[{"property", "value"}]`` list of the create page; anything else (a nested
  dict or list, NaN, a datetime, bytes) is refused;
* tags are a list of non-empty strings, sent as ``[{"name": ...}]``;
* chat statuses are the spellings the docs use, sent as the newest page spells
  them (``on hold``); a snooze time is an aware datetime or unix seconds, sent
  as a numeric string; ratings and ``mark_read``'s ``by`` are checked against
  their lists.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final, Literal, TypedDict

from helpcrunch_async._core.params import check_int64, check_positive_int
from helpcrunch_async._errors import InvalidParameterError

__all__ = [
    "CHAT_STATUSES",
    "OMIT",
    "RATINGS",
    "CustomerFields",
    "Omit",
    "Reader",
    "UpdateFields",
    "chat_body",
    "check_rating",
    "check_reader",
    "check_snooze",
    "check_status",
    "check_tags",
    "check_text",
    "custom_data_items",
    "customer_body",
    "event_body",
    "merge_custom_data",
    "message_body",
    "tag_body",
]


class Omit(enum.Enum):
    """The type of `OMIT`: a field the caller did not pass, so not sent."""

    OMIT = "OMIT"

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Final = Omit.OMIT
"""A field left out of a write: not sent (``None`` sends null)."""

# The spellings the docs' pages use, to the one the newest page sends.
CHAT_STATUSES: Mapping[str, str] = {
    "new": "new",
    "opened": "opened",
    "open": "opened",
    "pending": "pending",
    "on hold": "on hold",
    "onhold": "on hold",
    "on-hold": "on hold",
    "no communication": "no communication",
    "closed": "closed",
}
RATINGS = ("perfect", "great", "average", "poor", "very poor")
Value = str | int | float | bool | None


class UpdateFields(TypedDict, total=False):
    """The fields ``customers.update`` merges (and each ``update_many`` item beside ``id``)."""

    name: str | None
    email: str | None
    user_id: str | None
    company: str | None
    phone: str | None
    notes: str | None
    custom_data: Mapping[str, Value]


class CustomerFields(UpdateFields, total=False):
    """The fields of ``customers.create`` and ``replace``: `UpdateFields` and ``tags``."""

    tags: Iterable[str]


Reader = Literal["agent", "customer"]

# (argument, JSON key) of the customer fields that take a string or None.
_STRING_FIELDS = (
    ("name", "name"),
    ("email", "email"),
    ("user_id", "userId"),
    ("company", "company"),
    ("phone", "phone"),
    ("notes", "notes"),
)


def _check_string(name: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidParameterError(f"{name} must be a string or None, got {value!r:.40}")
    return value


def custom_data_items(
    custom_data: object, *, argument: str = "custom_data"
) -> list[dict[str, Any]]:
    """Return ``custom_data`` (a mapping) as the API's ``[{property, value}]`` list.

    ``argument`` names it in errors (an event's ``data`` is checked the same way).
    """
    if not isinstance(custom_data, Mapping):
        raise InvalidParameterError(
            f"{argument} must be a mapping of property to value, got {custom_data!r:.40}"
        )
    items: list[dict[str, Any]] = []
    for key, value in custom_data.items():
        if not isinstance(key, str) or not key:
            raise InvalidParameterError(
                f"{argument} keys must be non-empty strings, got {key!r:.40}"
            )
        items.append({"property": key, "value": _storable(f"{argument}[{key!r:.40}]", value)})
    return items


def _storable(where: str, value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return check_int64(where, value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidParameterError(f"{where} must be a finite number, got {value!r}")
        return value
    hint = " (send unix seconds or a string)" if isinstance(value, datetime) else ""
    raise InvalidParameterError(
        f"{where} must be a str, int, float, bool or None: the API stores no "
        f"{type(value).__name__}{hint}"
    )


def check_tags(tags: object) -> list[str]:
    """Return ``tags``, a list of non-empty strings (one string alone is refused)."""
    if isinstance(tags, str | bytes) or not isinstance(tags, Iterable):
        raise InvalidParameterError(f"tags must be a list of strings, got {tags!r:.40}")
    names = list(tags)
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise InvalidParameterError(f"every tag must be a non-empty string, got {name!r:.40}")
    return names


def tag_body(tags: object) -> dict[str, Any]:
    """Return the body of ``PUT``/``DELETE /customers/{id}/tags``; an empty list is refused."""
    names = check_tags(tags)
    if not names:
        raise InvalidParameterError("tags must name at least one tag")
    return {"tags": [{"name": name} for name in names]}


def customer_body(fields: Mapping[str, object], *, tags: bool = True) -> dict[str, Any]:
    """Return the JSON body for customer ``fields`` (snake_case, `OMIT` left out).

    ``fields`` may hold ``name``, ``email``, ``user_id``, ``company``, ``phone``,
    ``notes``, ``custom_data`` and (if ``tags``) ``tags``; any other key is
    refused. Updates take no ``tags``: whether tags sent in an update replace or
    join the customer's is not documented, so ``tag`` and ``untag`` say which.
    """
    known = {arg for arg, _ in _STRING_FIELDS} | {"custom_data"} | ({"tags"} if tags else set())
    unknown = sorted(set(fields) - known)
    if unknown:
        hint = " (use tag() or untag())" if "tags" in unknown else ""
        raise InvalidParameterError(
            f"unknown customer fields {unknown}{hint}; the fields are {sorted(known)}"
        )
    body: dict[str, Any] = {}
    for arg, key in _STRING_FIELDS:
        value = fields.get(arg, OMIT)
        if value is not OMIT:
            body[key] = _check_string(arg, value)
    names = fields.get("tags", OMIT)
    if names is not OMIT:
        body["tags"] = [{"name": name} for name in check_tags(names)]
    custom_data = fields.get("custom_data", OMIT)
    if custom_data is not OMIT:
        body["customData"] = custom_data_items(custom_data)
    return body


def merge_custom_data(
    current: Iterable[tuple[str, Value]], sent: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Return the whole custom data a PATCH should send: ``current``, with ``sent`` merged in.

    Sent whole, it leaves the same account whether the server merges custom
    data property by property or replaces it with the list it gets.
    """
    merged = dict(current)
    merged.update((item["property"], item["value"]) for item in sent)
    return [{"property": key, "value": value} for key, value in merged.items()]


def event_body(customer_id: object, name: object, data: object) -> dict[str, Any]:
    """Return the body of ``POST /events``: ``{customer, name, data}``."""
    customer = check_positive_int("customer_id", customer_id)
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterError(f"name must be a non-blank string, got {name!r:.40}")
    items = custom_data_items({} if data is None else data, argument="data")
    return {
        "customer": customer,
        "name": name,
        "data": {item["property"]: item["value"] for item in items},
    }


def check_status(status: object) -> str:
    """Return the wire spelling of a chat ``status`` (any spelling the docs use)."""
    wire = CHAT_STATUSES.get(status) if isinstance(status, str) else None
    if wire is None:
        raise InvalidParameterError(
            f"status must be one of {sorted(set(CHAT_STATUSES.values()))}, got {status!r:.40}"
        )
    return wire


def check_snooze(until: object) -> str | None:
    """Return a snooze time as the API's numeric string of unix seconds; None unsnoozes."""
    if until is None:
        return None
    if isinstance(until, datetime):
        if until.tzinfo is None or until.utcoffset() is None:
            raise InvalidParameterError(
                f"until must be an aware datetime (a naive one names no instant), got {until!r}"
            )
        return str(math.floor(until.timestamp()))
    return str(check_positive_int("until", until))


def check_rating(rating: object) -> str:
    """Return ``rating`` if the rate endpoint takes it."""
    if rating not in RATINGS:
        raise InvalidParameterError(f"rating must be one of {list(RATINGS)}, got {rating!r:.40}")
    return str(rating)


def check_reader(by: object) -> str:
    """Return the endpoint of ``mark_read(by=...)``: ``readByAgent`` or ``readByCustomer``."""
    if by == "agent":
        return "readByAgent"
    if by == "customer":
        return "readByCustomer"
    raise InvalidParameterError(f"by must be 'agent' or 'customer', got {by!r:.40}")


def chat_body(
    customer: object, application: object, assignee: object, department: object
) -> dict[str, Any]:
    """Return the body of ``POST /chats``: ids checked, the optional ones left out when None."""
    body: dict[str, Any] = {
        "customer": check_positive_int("customer", customer),
        "application": check_positive_int("application", application),
    }
    if assignee is not None:
        body["assignee"] = check_positive_int("assignee", assignee)
    if department is not None:
        body["department"] = check_positive_int("department", department)
    return body


def message_body(chat_id: object, text: object, agent: object, private: object) -> dict[str, Any]:
    """Return the body of ``POST /messages``: ``{chat, text, type[, agent]}``.

    No ``agent`` posts as the customer; ``private`` (a note only agents see)
    needs an agent.
    """
    if not isinstance(private, bool):
        raise InvalidParameterError(f"private must be a bool, got {private!r:.40}")
    body: dict[str, Any] = {
        "chat": check_positive_int("chat_id", chat_id),
        "text": check_text(text),
        "type": "private" if private else "message",
    }
    if agent is not None:
        body["agent"] = check_positive_int("agent", agent)
    elif private:
        raise InvalidParameterError("a private note needs an agent: customers write no notes")
    return body


def check_text(text: object) -> str:
    """Return a message's ``text`` if it is a non-blank string."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidParameterError(f"text must be a non-blank string, got {text!r:.40}")
    return text
