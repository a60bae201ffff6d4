"""The chats of one account: generated (``_chat_generation``), then changed while it runs.

Changes (drift, the API's writes) take fresh ids above all others and times from the
customer base's clock (``Dataset.tick``), later than every timestamp in the account.
Changed chats are stored whole; the keys of the orders are recomputed for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from helpcrunch_async.testing._chat_generation import GeneratedChats
from helpcrunch_async.testing._chat_records import (
    AGENT_TEXTS,
    APPLICATION_IDS,
    CHAT_STRIDE,
    CUSTOMER_TEXTS,
    Chat,
    Customer,
    Message,
)

if TYPE_CHECKING:
    from collections.abc import Iterable


class ChatData(GeneratedChats):
    """The chats and messages of one account, on top of its customers and team."""

    # Customer id -> its chats' indices (deleted ones too), for indices below the count:
    # a chat's customer never changes and new chats only append, so it only grows.
    _by_customer: dict[int, list[int]] | None = None
    _by_customer_count = 0

    def of_customer(self, customer_id: int) -> list[int]:
        """Return the indices of the live chats of the customer with ``customer_id``."""
        chats = self._by_customer
        if chats is None:
            chats = self._by_customer = {}
        for index in range(self._by_customer_count, self.count):
            chats.setdefault(self.customer(self.chat(index)).id, []).append(index)
        self._by_customer_count = self.count
        return [index for index in chats.get(customer_id, ()) if index not in self._deleted]

    def index_of(self, chat_id: int) -> int:
        """Return the index of the chat with ``chat_id``; KeyError if there is none."""
        index = self.find(chat_id)
        if index is None:
            raise KeyError(f"no chat with id {chat_id}")
        return index

    def _touch(self, index: int) -> Chat:
        chat = self._changed.get(index)
        if chat is None:
            chat = self._base(index)
            self._changed[index] = chat
        self._dirty.add(index)
        self.version += 1
        return chat

    def _new_message(self, chat: Chat, sender: str) -> Message:
        agent: int | None = None
        if sender == "agent":
            pool = chat.participants or ((chat.assignee,) if chat.assignee is not None else ())
            if not pool and self.team.agents:
                pool = (self._rng.randrange(len(self.team.agents)),)
            if pool:
                agent = pool[self._rng.randrange(len(pool))]
        texts = CUSTOMER_TEXTS if agent is None else AGENT_TEXTS
        message_id = self._next_message_id
        self._next_message_id += 1
        return Message(
            id=message_id,
            time=self.customers.tick(),
            sender="customer" if agent is None else "agent",
            agent=agent,
            type="message",
            text=texts[self._rng.randrange(len(texts))],
            read=False,
            edited_at=None,
            broadcast_type=None,
        )

    def add_messages(self, index: int, count: int, sender: str | None = None) -> list[int]:
        """Append ``count`` messages (alternating customer and agent unless ``sender``).

        A customer message reopens a closed chat (status ``opened``, ``closedAt`` null)
        and turns an ``empty`` chat ``new``; an agent message turns ``new`` ``opened``.
        """
        if sender not in (None, "customer", "agent"):
            raise ValueError("sender is 'customer', 'agent' or None")
        chat = self._touch(index)
        ids: list[int] = []
        for k in range(count):
            who = sender or ("customer" if k % 2 == 0 else "agent")
            message = self._new_message(chat, who)
            chat.extras.append(message)
            ids.append(message.id)
            if message.agent is None:
                if chat.status in ("closed", "empty", "no communication"):
                    chat.status = "opened" if chat.status == "closed" else "new"
                    chat.closed_at = chat.closed_by = chat.rating = None
            elif chat.status in ("new", "empty"):
                chat.status = "opened"
            if chat.status == "empty":
                chat.created_with = "customer_message"
        chat.changed_at = self.customers.tick() if not ids else chat.extras[-1].time
        return ids

    def add_chats(self, count: int) -> list[int]:
        """Create ``count`` chats, each with a customer message (some with a reply)."""
        ids: list[int] = []
        agents = len(self.team.agents)
        for _ in range(count):
            index = self.count
            chat_id = self._next_chat_id
            self._next_chat_id += 1 + self._rng.randrange(CHAT_STRIDE)
            self._added_ids.append(chat_id)
            participants = (self._rng.randrange(agents),) if agents else ()
            ref = self._rng.randrange(self.customers.size)
            chat = Chat(
                index=index,
                id=chat_id,
                customer_ref=ref,
                fixed_customer=self._customer(ref),
                participants=participants,
                assignee=participants[0] if participants else None,
                department=self._department_for(
                    participants[0] if participants else None, self._rng.getrandbits(16)
                ),
                created_at=self.customers.tick(),
                gap=1,
                base_count=0,
                agent_started=False,
                status="empty",
                closed_at=None,
                closed_by=None,
                rating=None,
                created_with="customer_message",
                application_id=APPLICATION_IDS[0],
                snooze_days=1,
                salt=self._rng.getrandbits(64),
            )
            self._changed[index] = chat
            self.add_messages(index, 1 + (self._rng.randrange(2) if participants else 0))
            ids.append(chat_id)
        return ids

    def open_chat(self, customer: Customer, fields: dict[str, Any]) -> int:
        """Open an empty chat for ``customer`` (the API's ``POST /chats``); return its index.

        ``fields`` sets the new chat's attributes (``created_at``, ``application_id``,
        ``assignee``, ``department``, ``created_with``).
        """
        index = self.count
        chat_id = self._next_chat_id
        self._next_chat_id += 1 + self._rng.randrange(CHAT_STRIDE)
        self._added_ids.append(chat_id)
        base: dict[str, Any] = {
            "participants": (),
            "gap": 1,
            "base_count": 0,
            "agent_started": False,
            "status": "empty",
            "closed_at": None,
            "closed_by": None,
            "rating": None,
            "snooze_days": 1,
            "salt": self._rng.getrandbits(64),
        }
        self._changed[index] = Chat(
            index=index, id=chat_id, customer_ref=0, fixed_customer=customer, **base, **fields
        )
        self._dirty.add(index)
        self.version += 1
        return index

    def post(self, index: int, message: Message) -> Chat:
        """Append ``message`` (the API's ``POST /messages``) with a fresh id; return the chat."""
        chat = self.touch(index)
        message.id = self._next_message_id
        self._next_message_id += 1
        chat.extras.append(message)
        chat.changed_at = message.time
        return chat

    def touch(self, index: int) -> Chat:
        """Return chat ``index`` to be changed in place (its keys are recomputed)."""
        return self._touch(index)

    def close(self, index: int, by: str = "agent") -> None:
        """Close the chat now (``closedAt`` and ``updatedAt`` move to a fresh time)."""
        chat = self._touch(index)
        chat.status = "closed"
        chat.closed_by = by
        chat.closed_at = chat.changed_at = self.customers.tick()

    def reassign(self, index: int, agent_id: int | None) -> None:
        """Assign the chat to the agent with ``agent_id`` (None unassigns); moves updatedAt."""
        agent: int | None = None
        if agent_id is not None:
            found = [k for k, a in enumerate(self.team.agents) if a.id == agent_id]
            if not found:
                raise ValueError(f"no agent with id {agent_id}")
            agent = found[0]
        chat = self._touch(index)
        chat.assignee = agent
        chat.changed_at = self.customers.tick()

    def delete(self, indices: Iterable[int]) -> None:
        """Delete these chats (their messages go with them)."""
        self._deleted.update(indices)
        self.version += 1

    def random_live(self, count: int) -> list[int]:
        """Return up to ``count`` distinct live chat indices drawn from the drift stream."""
        if count <= 0:
            return []
        live = self.live()
        return self._rng.sample(live, min(count, len(live)))

    def random_open(self, count: int) -> list[int]:
        """Return up to ``count`` distinct live chats that are not closed, at random."""
        if count <= 0:
            return []
        live = self.live()
        self._rng.shuffle(live)
        chosen: list[int] = []
        for index in live:
            if self.chat(index).status != "closed":
                chosen.append(index)
                if len(chosen) == count:
                    break
        return chosen

    def random_agent_id(self) -> int:
        """Return the id of an agent drawn from the drift stream."""
        return self.team.agents[self._rng.randrange(len(self.team.agents))].id
