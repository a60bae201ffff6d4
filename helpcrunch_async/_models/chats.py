"""The wire types of ``GET /chats``, ``GET /chats/{id}`` and ``POST /chats/search``.

Attributes are snake_case over the API's camelCase JSON, with every field of the
newest chat model (``readByAgent``, ``readByCustomer``, ``createdWith``,
``applicationId`` ...), ``notes`` from older pages, and ``updatedAt``, which
search filters on though the model page does not list it (``None`` when the
server leaves it out). Unknown fields are skipped. Variants, each normalised
in `common`:

* Timestamps (``createdAt``, ``lastMessageAt``, ``lastCustomerMessageAt``,
  ``closedAt``, ``snoozedUntil``, ``updatedAt``): an integer (old pages), a
  numeric string (new pages) or a string with a fraction (``"1603864800.000"``,
  snoozes). All become whole unix seconds (``int | None``, fraction floored).
* ``status``: ``on hold`` / ``on-hold`` / ``onhold`` become ``onhold``, and
  ``open`` / ``opened`` become ``opened``; the other values (``new``,
  ``pending``, ``closed``, ``no communication``, ``empty``) pass through.
  ``rating`` passes through as sent (``great``, ``average``, ``poor``, and the
  rate endpoint's ``perfect`` and ``very poor``).
* ``agents``: a list of agents (every page but one) or a single agent object
  (one old chat-model page). Both become ``list[Agent]``.
* ``assignee`` and ``department``: an object or null, never ``{}``.
* The page: ``GET /chats`` puts the count under ``meta.total``; search may put
  it there or at the top level (undocumented). Both become ``ChatsPage.total``.

Encoding (``msgspec.json.encode``) writes the API's camelCase JSON with integer
timestamps, the normalised status and ``agents`` as a list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from helpcrunch_async._models.agents import Agent
from helpcrunch_async._models.common import (
    CLEAN_TIMESTAMP,
    Window,
    WirePage,
    chat_status,
    counted_parts,
    page_parts,
    seconds,
)

__all__ = [
    "Chat",
    "ChatCustomer",
    "ChatDepartment",
    "ChatsPage",
    "decode_chat",
    "decode_chats_page",
    "decode_chats_window",
]

# (attribute, JSON key) of every timestamp of a chat.
_TIMESTAMPS = (
    ("last_customer_message_at", "lastCustomerMessageAt"),
    ("closed_at", "closedAt"),
    ("created_at", "createdAt"),
    ("last_message_at", "lastMessageAt"),
    ("snoozed_until", "snoozedUntil"),
    ("updated_at", "updatedAt"),
)


class ChatCustomer(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    """The customer a chat belongs to, as the chat carries it (``user_id`` may be None)."""

    id: int
    name: str | None = None
    email: str | None = None
    user_id: str | None = None


class ChatDepartment(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    """The department a chat is in, as the chat carries it: id and name only."""

    id: int
    name: str | None = None


class Chat(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    """One chat, as ``GET /chats``, ``GET /chats/{id}`` and chat search return it.

    Timestamps are unix seconds. ``closed_by`` is ``"customer"``, ``"agent"``
    or ``None``; ``created_with`` is ``public_api``, ``broadcast_reply``,
    ``agent_message`` or ``customer_message``; ``agents`` are the agents who
    wrote in the chat. Untracked by the cycle collector (``gc=False``), as
    `Customer` is: it holds only scalars, scalar-only Structs and lists of them.
    """

    # In the chat model's order, so that encoding reads like the API's JSON.
    id: int
    closed_by: str | None = None
    if TYPE_CHECKING:
        last_customer_message_at: int | None = None
    else:
        # What the wire may carry; `__post_init__` narrows every such field to `int | None`.
        last_customer_message_at: int | float | str | None = None
    status: str | None = None
    notes: str | None = None
    if TYPE_CHECKING:
        closed_at: int | None = None
    else:
        closed_at: int | float | str | None = None
    rating: str | None = None
    if TYPE_CHECKING:
        created_at: int | None = None
        last_message_at: int | None = None
    else:
        created_at: int | float | str | None = None
        last_message_at: int | float | str | None = None
    read_by_agent: bool | None = None
    read_by_customer: bool | None = None
    created_with: str | None = None
    if TYPE_CHECKING:
        snoozed_until: int | None = None
    else:
        snoozed_until: int | float | str | None = None
    last_message_text: str | None = None
    last_message_id: int | None = None
    application_id: int | None = None
    last_communicated_agent_id: int | None = None
    if TYPE_CHECKING:
        agents: list[Agent] = msgspec.field(default_factory=list)
    else:
        # What the wire may carry; `__post_init__` narrows it to the list.
        agents: list[Agent] | Agent = msgspec.field(default_factory=list)
    customer: ChatCustomer | None = None
    assignee: Agent | None = None
    department: ChatDepartment | None = None
    if TYPE_CHECKING:
        updated_at: int | None = None
    else:
        updated_at: int | float | str | None = None

    def __post_init__(self) -> None:
        """Normalise the variants of the timestamps, ``status`` and ``agents``."""
        if self.status is not None:
            self.status = chat_status(self.status)
        agents: list[Agent] | Agent = self.agents
        if type(agents) is Agent:
            self.agents = [agents]
        for attribute, key in _TIMESTAMPS:
            value: float | str | None = getattr(self, attribute)
            if type(value) not in CLEAN_TIMESTAMP:
                setattr(self, attribute, seconds(value, key))


class ChatsPage(msgspec.Struct, rename="camel"):
    """One page of chats: the matching ``total`` and this page's chats.

    ``total`` is required: ``GET /chats`` sends it as ``meta.total`` and search
    as ``total`` or ``meta.total``; a page with neither cannot be planned
    around, so it is a malformed body.
    """

    total: int
    data: list[Chat]


_PAGE = msgspec.json.Decoder(WirePage[Chat])
_CHAT = msgspec.json.Decoder(Chat)


def decode_chats_page(body: bytes) -> ChatsPage:
    """Decode a ``GET /chats`` or ``POST /chats/search`` body.

    Raises `msgspec.DecodeError` for a body that is not JSON and
    `msgspec.ValidationError` for one of the wrong shape or with no total.
    """
    total, data = counted_parts(_PAGE.decode(body))
    return ChatsPage(total=total, data=data)


def decode_chats_window(body: bytes) -> Window[Chat]:
    """Decode a chat search body for a scan: a missing count is ``None`` (read until short)."""
    total, data = page_parts(_PAGE.decode(body))
    return Window(total=total, data=data)


def decode_chat(body: bytes) -> Chat:
    """Decode a ``GET /chats/{id}`` body: one bare chat object."""
    return _CHAT.decode(body)
