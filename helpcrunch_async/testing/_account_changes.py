"""The ``Emulator``'s changes to its account while it runs: drift, by hand or on a trigger.

Each change goes through the account (``Dataset``, ``ChatData``) and then tells the
webhook hub what it fired (see ``WebhookMethods.emit``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpcrunch_async.testing._webhook_hub import WebhookMethods

if TYPE_CHECKING:
    from collections.abc import Iterable

    from helpcrunch_async.testing._chats import ChatData
    from helpcrunch_async.testing._dataset import Dataset
    from helpcrunch_async.testing._faults import Drift
    from helpcrunch_async.testing._team import Team


class AccountChanges(WebhookMethods):
    """Insert, delete, visit, open, write to, close and reassign (a base of ``Emulator``)."""

    dataset: Dataset
    chats: ChatData
    team: Team
    # The latest list request's (sort, descending): where ``position`` points.
    _last_order: tuple[str | None, bool]

    def insert(self, count: int, position: str = "start") -> list[int]:
        """Insert ``count`` customers at ``position`` of the latest list request's order."""
        _, descending = self._last_order
        ids = self.dataset.insert(count, position, descending=descending)
        for customer_id in ids:
            self.emit("customer.new", customer=customer_id)
        return ids

    def delete(
        self, count: int = 0, position: str = "start", *, ids: Iterable[int] = ()
    ) -> list[int]:
        """Delete the customers with ``ids``, then ``count`` more from ``position``.

        ``position`` refers to the order of the latest list request (id order before
        any). Returns the deleted ids.
        """
        removed = self.dataset.delete_ids(ids)
        if count:
            sort, descending = self._last_order
            removed += self.dataset.delete(count, position, sort=sort, descending=descending)
        return removed

    def visit(self, ids: Iterable[int] = (), count: int = 0, *, at: int | None = None) -> list[int]:
        """Let customers visit now: ``ids``, then ``count`` more drawn at random.

        Each visit moves the customer's ``lastSeen`` to a fresh time, later than every
        other in the account, so it moves to the end of the lastSeen order and a search
        on ``customers.lastSeen`` sees it. ``at`` stamps the visits with that time
        instead (a server clock that jumped: the year 2100, say). Returns the visited
        ids in visit order.
        """
        chosen = list(ids)
        if count:
            chosen += self.dataset.random_ids(count)
        return self.dataset.visit(chosen, at=at)

    def add_chats(self, count: int) -> list[int]:
        """Open ``count`` chats (fresh ids above all others, a customer message each)."""
        ids = self.chats.add_chats(count)
        self.webhooks.chats_added(ids)
        return ids

    def add_messages(self, chat_id: int, count: int = 1, sender: str | None = None) -> list[int]:
        """Append ``count`` messages to a chat; return their ids (see ``ChatData``).

        ``sender`` is ``customer``, ``agent`` or None (alternating, customer first).
        """
        return self._add_messages(self.chats.index_of(chat_id), count, sender)

    def close_chat(self, chat_id: int, by: str = "agent") -> None:
        """Close a chat now: status ``closed``, ``closedAt`` and ``updatedAt`` move."""
        self._close(self.chats.index_of(chat_id), by)

    def reassign_chat(self, chat_id: int, agent_id: int | None) -> None:
        """Give a chat to the agent ``agent_id`` (None unassigns); ``updatedAt`` moves."""
        self._reassign(self.chats.index_of(chat_id), agent_id)

    # Drift and the methods above change chats through these, which emit the events.
    def _add_messages(self, index: int, count: int, sender: str | None) -> list[int]:
        chat_id = self.chats.chat_id(index)
        before = self.webhooks.chat_before(chat_id)
        ids = self.chats.add_messages(index, count, sender)
        self.webhooks.messages_added(chat_id, ids, before)
        return ids

    def _close(self, index: int, by: str) -> None:
        chat_id = self.chats.chat_id(index)
        before = self.webhooks.chat_before(chat_id)
        self.chats.close(index, by)
        self.webhooks.chat_changed(chat_id, before)

    def _reassign(self, index: int, agent_id: int | None) -> None:
        chat_id = self.chats.chat_id(index)
        before = self.webhooks.chat_before(chat_id)
        self.chats.reassign(index, agent_id)
        self.webhooks.chat_changed(chat_id, before)

    def delete_chats(self, ids: Iterable[int]) -> list[int]:
        """Delete the chats with these ids; return the ids that were present."""
        found = [(chat_id, self.chats.find(chat_id)) for chat_id in ids]
        present = [(chat_id, index) for chat_id, index in found if index is not None]
        self.chats.delete(index for _, index in present)
        return [chat_id for chat_id, _ in present]

    def apply(self, change: Drift) -> None:
        """Apply a drift's changes now, whatever its trigger says."""
        self._apply(change)

    def _apply(self, change: Drift) -> None:
        if change.delete:
            self.delete(change.delete, change.position)
        if change.insert:
            self.insert(change.insert, change.position)
        if change.visits:
            self.visit(count=change.visits)
        if change.add_chats:
            self.add_chats(change.add_chats)
        for index in self.chats.random_live(change.add_messages):
            self._add_messages(index, 1, None)
        for index in self.chats.random_open(change.close_chats):
            self._close(index, "agent")
        if self.team.agents:
            for index in self.chats.random_live(change.reassign_chats):
                self._reassign(index, self.chats.random_agent_id())
