"""The wire types of ``GET /chats/{id}/messages``: a message and a page of them.

Attributes are snake_case over the API's camelCase JSON; ``Message.from_``
holds the JSON key ``from`` (``"agent"`` or ``"customer"``). Variants, each
normalised in `common`:

* ``createdAt`` / ``updatedAt``: an integer, a numeric string, or a string with
  milliseconds (``"1594139170.913"``, old pages). All become whole unix seconds
  (``int``, the fraction floored); ``updatedAt`` may be null (just created).
* ``agent``: ``{id, name, email, role}`` (new model), ``{id, name}`` (old) or
  null for a customer's message; the missing fields are ``None``.
* The page: items under ``data`` (every page but one) or ``messages`` (one old
  page); ``total`` at the top level, or absent on that old page (``None``).

Encoding (``msgspec.json.encode``) writes the API's camelCase JSON with
integer timestamps and the key ``from``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from helpcrunch_async._models.agents import Agent  # noqa: TC001 -- msgspec reads annotations at run time
from helpcrunch_async._models.common import CLEAN_TIMESTAMP, WirePage, page_parts, seconds

__all__ = ["Message", "MessagesPage", "decode_messages_page"]


class Message(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    """One message of a chat, newest first in a page.

    ``type`` is ``message``, ``private`` (a note for agents), ``tech`` (a system
    message), ``email`` or ``knowledgeBase``; ``broadcast_type`` names the
    broadcast that sent it (``trigger``, ``auto chat``, ...) or is ``None``.
    Untracked by the cycle collector (``gc=False``), as `Customer` is.
    """

    # In the message model's order, so that encoding reads like the API's JSON.
    id: int
    agent: Agent | None = None
    type: str | None = None
    text: str | None = None
    read: bool = False
    if TYPE_CHECKING:
        created_at: int | None = None
        updated_at: int | None = None
    else:
        # What the wire may carry; `__post_init__` narrows it to `int | None`.
        created_at: int | float | str | None = None
        updated_at: int | float | str | None = None
    edited: bool = False
    broadcast_type: str | None = None
    chat: int | None = None
    from_: str | None = msgspec.field(default=None, name="from")

    def __post_init__(self) -> None:
        """Normalise the timestamp variants (see the module docstring)."""
        created: float | str | None = self.created_at
        updated: float | str | None = self.updated_at
        if type(created) not in CLEAN_TIMESTAMP:
            self.created_at = seconds(created, "createdAt")
        if type(updated) not in CLEAN_TIMESTAMP:
            self.updated_at = seconds(updated, "updatedAt")


class MessagesPage(msgspec.Struct, rename="camel"):
    """One page of a chat's messages, newest first: ``total`` (``None`` if unsent) and messages."""

    total: int | None
    data: list[Message]


_PAGE = msgspec.json.Decoder(WirePage[Message])


def decode_messages_page(body: bytes) -> MessagesPage:
    """Decode a ``GET /chats/{id}/messages`` body; raises msgspec's errors for a malformed one."""
    total, data = page_parts(_PAGE.decode(body))
    return MessagesPage(total=total, data=data)
