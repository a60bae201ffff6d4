"""What every wire model shares: timestamps, chat statuses and list pages, normalised once.

The documentation writes the same things several ways; each variant is turned
into one shape here, and the resource models only call these functions:

* Timestamps (customers' ``firstSeen``, chats' ``createdAt``, messages'
  ``createdAt`` and the rest) arrive as a JSON integer (old pages), a numeric
  string (``"1603885746"``, new pages), a string with a fraction
  (``"1594139170.913"``: messages, snoozes, webhooks), a JSON number with a
  fraction, or null. All become ``int | None``, whole unix seconds with any
  fraction floored: `seconds`. A blank string means no value (``None``); any
  other non-numeric string is an error naming the field.
* Chat statuses arrive as ``onhold``, ``on hold`` or ``on-hold``, and ``open``
  or ``opened``. They become the chat model's spelling (``onhold``,
  ``opened``): `chat_status`. Other values (``new``, ``pending``, ``closed``,
  ``no communication``, ``empty``, and any the server adds) pass through.
* List pages carry their items under ``data`` (everywhere) or ``messages`` (one
  old messages page), and their count as a top-level ``total`` (customers,
  messages, perhaps search), under ``meta.total`` (chats, agents,
  departments), or nowhere (old agents and departments pages). `WirePage`
  reads every form and `page_parts` returns ``(total, items)``: ``total`` is
  ``None`` only when the server sent neither. A page with no list at all is
  malformed, not empty.

This module is pure: it imports neither aiohttp nor asyncio.
"""

from __future__ import annotations

import contextlib
import math
from typing import Generic, TypeVar

import msgspec

__all__ = [
    "CLEAN_TIMESTAMP",
    "Meta",
    "Window",
    "WirePage",
    "chat_status",
    "counted_parts",
    "page_parts",
    "seconds",
]

T = TypeVar("T")

CLEAN_TIMESTAMP = frozenset({int, type(None)})
"""The types a timestamp has once normalised: a model's hook returns at once for these."""

# Every documented spelling of a status that has several, to the chat model's.
_STATUS_SPELLINGS = {
    "on hold": "onhold",
    "on-hold": "onhold",
    "open": "opened",
}


def seconds(value: float | str | None, name: str) -> int | None:
    """Return the whole unix seconds that a timestamp variant stands for.

    ``name`` is the JSON field, for the message. The ``ValueError`` becomes a
    `msgspec.ValidationError` with the item's JSON path when raised while a
    model decodes.
    """
    if value is None or type(value) is int:
        return value
    if isinstance(value, str):
        # The common string, "1603885746", without a regex or an exception.
        if value.isascii() and value.isdigit():
            return int(value)
        text = value
        # int() and float() also read "1_000" and other scripts' digits; the API writes neither.
        if "_" in text or not text.isascii():
            raise ValueError(f"`{name}` is not unix seconds: {text[:40]!r}")
        if "." not in text and "e" not in text and "E" not in text:
            # A signed or padded integer, exactly (a float would round past 2**53).
            with contextlib.suppress(ValueError):
                return int(text)
        try:
            value = float(text)
        except ValueError:
            if not text.strip():
                return None
            raise ValueError(f"`{name}` is not unix seconds: {text[:40]!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"`{name}` is not unix seconds: {value!r}")
    return math.floor(value)


def chat_status(status: str) -> str:
    """Return the chat model's spelling of a status (``on hold`` -> ``onhold``)."""
    return _STATUS_SPELLINGS.get(status, status)


class Meta(msgspec.Struct):
    """A list page's ``meta`` object; only ``total`` is documented."""

    total: int | None = None


class WirePage(msgspec.Struct, Generic[T]):
    """A list page as the wire may carry it: every documented key, all optional."""

    data: list[T] | None = None
    messages: list[T] | None = None
    total: int | None = None
    meta: Meta | None = None

    def __post_init__(self) -> None:
        """Refuse a page with no list at all: a malformed body, not an empty page."""
        if self.data is None and self.messages is None:
            raise ValueError("the page has neither `data` nor `messages`")


class Window(msgspec.Struct, Generic[T]):
    """A page of any listing as a scan reads it: ``total`` (None if none was sent) and items.

    Search scans decode to this, so that they read on even if the server sent
    no count; the single-page methods return the resource's own page type.
    """

    total: int | None
    data: list[T]


def page_parts(page: WirePage[T]) -> tuple[int | None, list[T]]:
    """Return a wire page's ``(total, items)``: top-level ``total`` first, then ``meta.total``."""
    items = page.data if page.data is not None else page.messages
    total = page.total
    if total is None and page.meta is not None:
        total = page.meta.total
    # `__post_init__` made sure one of the two lists is there.
    return total, items or []


def counted_parts(page: WirePage[T]) -> tuple[int, list[T]]:
    """Return `page_parts` of a page that must carry a count (customers, chats).

    A page of those endpoints without one cannot be planned around, so it is a
    malformed body: `msgspec.ValidationError`, which the caller turns into a
    `DecodeError` and retries, like any other damaged body.
    """
    total, items = page_parts(page)
    if total is None:
        raise msgspec.ValidationError("the page has neither `total` nor `meta.total`")
    return total, items
