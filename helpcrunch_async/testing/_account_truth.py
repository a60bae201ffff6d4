"""The ``Emulator``'s account read directly, as tests compare against it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from helpcrunch_async.testing._chat_generation import CHAT_SORT_FIELDS

if TYPE_CHECKING:
    from helpcrunch_async.testing._chats import ChatData
    from helpcrunch_async.testing._dataset import Dataset
    from helpcrunch_async.testing._team import Team


class AccountTruth:
    """What the account holds now, exactly as the API serialises it (a base of ``Emulator``)."""

    dataset: Dataset
    chats: ChatData
    team: Team

    @property
    def total(self) -> int:
        """The current number of customers."""
        return self.dataset.total

    def expected_ids(self, sort: str | None = None, order: str = "asc") -> list[int]:
        """Return every current id in the server's order for ``sort`` and ``order``."""
        if order not in ("asc", "desc"):
            raise ValueError("order is 'asc' or 'desc'")
        return self.dataset.ids(sort, descending=order == "desc")

    def customer_json(self, customer_id: int) -> bytes | None:
        """Return the exact bytes the server sends for a customer, or None if absent."""
        return self.dataset.customer_json(customer_id)

    def customer(self, customer_id: int) -> dict[str, Any] | None:
        """Return the customer decoded to a dict, or None if absent."""
        body = self.customer_json(customer_id)
        return None if body is None else msgspec.json.decode(body, type=dict[str, Any])

    def truth_customers(self) -> list[dict[str, Any]]:
        """Return every live customer, in id order, exactly as the API serialises it."""
        data = self.dataset
        refs = data.refs(0, data.total, None, descending=False)
        return [msgspec.json.decode(body, type=dict[str, Any]) for body in data.bodies(refs)]

    @property
    def chats_total(self) -> int:
        """The current number of chats."""
        return self.chats.total

    def expected_chat_ids(self, sort: str | None = None, order: str = "asc") -> list[int]:
        """Return every current chat id in the server's order for ``sort`` and ``order``."""
        if order not in ("asc", "desc"):
            raise ValueError("order is 'asc' or 'desc'")
        if sort is not None and sort not in CHAT_SORT_FIELDS:
            raise ValueError(f"sort is one of {CHAT_SORT_FIELDS}")
        return self.chats.ids(sort, descending=order == "desc")

    def chat_json(self, chat_id: int) -> bytes | None:
        """Return the exact bytes the server sends for a chat, or None if absent."""
        index = self.chats.find(chat_id)
        return None if index is None else self.chats.chat_json(index)

    def chat(self, chat_id: int) -> dict[str, Any] | None:
        """Return the chat decoded to a dict, or None if absent."""
        body = self.chat_json(chat_id)
        return None if body is None else msgspec.json.decode(body, type=dict[str, Any])

    def chat_updated_at(self, chat_id: int) -> int:
        """Return the chat's ``updatedAt`` (what ``chats.updatedAt`` filters compare)."""
        chats = self.chats
        return chats.derive(chats.chat(self.chats.index_of(chat_id))).updated_at

    def truth_chats(self) -> list[dict[str, Any]]:
        """Return every live chat, in id order, exactly as the API serialises it."""
        chats = self.chats
        return [msgspec.json.decode(chats.chat_json(i), type=dict[str, Any]) for i in chats.live()]

    def message_count(self, chat_id: int) -> int:
        """Return how many messages the chat has."""
        chats = self.chats
        return chats.message_count(chats.chat(self.chats.index_of(chat_id)))

    def truth_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """Return every message of a chat, newest first, exactly as the API serialises them."""
        index = self.chats.index_of(chat_id)
        _, bodies = self.chats.messages_json(index, 0, 1 << 30)
        return [msgspec.json.decode(body, type=dict[str, Any]) for body in bodies]

    def truth_agents(self) -> list[dict[str, Any]]:
        """Return every agent as ``GET /agents`` serialises it, in the server's order."""
        return [msgspec.json.decode(b, type=dict[str, Any]) for b in self.team.agent_json]

    def truth_departments(self) -> list[dict[str, Any]]:
        """Return every department as ``GET /departments`` serialises it, in order."""
        return [msgspec.json.decode(b, type=dict[str, Any]) for b in self.team.department_json]
