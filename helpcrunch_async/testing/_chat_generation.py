# ruff: noqa: PLR2004 -- the synthetic data's shares are literal percentages and counts
"""Deterministic chats and their messages, generated on demand, served and ordered.

Chat ``i`` is a pure function of ``(seed, i)`` and message ``j`` of chat ``i`` a pure
function of ``(seed, i, j)``: nothing per chat or per message is stored for the base
data, so 100,000 chats with two million messages cost a few hundred bytes until a sorted
order or a search asks for the key arrays (five ``array('q')`` of one entry per chat).

A base chat holds: a customer of the customer base (``{id, name, email, userId}``), 0 to
3 participating agents, an assignee (the first participant, else an agent or none), a
department (one holding the assignee, else one or none), a heavy-tailed number of
messages (``messages_per_chat`` is the mean: most chats have 1 to 30, a few hundreds, 3%
none and are ``empty``), a status, a rating for some closed chats. Timestamps are
consistent: message ``j`` is sent at ``createdAt + j*gap + r_j`` with ``0 <= r_j < gap``,
so ``createdAt <= `` every message time and messages are strictly increasing in time;
``lastMessageAt`` is the newest message's time, ``lastCustomerMessageAt`` the newest
customer message's, ``closedAt`` (closed chats only) comes after the last message, and
``updatedAt`` (searchable, not serialised unless asked) is the latest of them.

The first ``p`` replies of a chat come from its ``p`` participants in turn, so the agents
who wrote are known without reading the messages. Ids: chats ``7000000 + 3*i + (h % 3)``,
messages ``50000000 + 1024*i + j`` (base), drift messages and chats take fresh ids above
all others. Drift times come from the customer base's clock (``Dataset.tick``), later
than every timestamp in the account, strictly increasing.

Orders: no sort is id order; a sort field orders by ``(timestamp, id)`` with null as the
smallest timestamp, so ``asc`` puts nulls first and ties by id ascending, and ``desc`` is
exactly the reverse. Messages come newest first (``j`` descending).
"""

from __future__ import annotations

import bisect
import random
from array import array
from typing import TYPE_CHECKING, Any, Literal, get_args

import msgspec

from helpcrunch_async.testing._chat_records import (
    AGENT_TEXTS,
    APPLICATION_IDS,
    CHAT_STRIDE,
    CUSTOMER_TEXTS,
    FIRST_CHAT_ID,
    FIRST_MESSAGE_ID,
    MAX_BASE_MESSAGES,
    MESSAGE_STRIDE,
    AgentRef,
    Chat,
    ChatWire,
    ChatWithUpdatedAt,
    Customer,
    CustomerRef,
    DepartmentRef,
    Derived,
    Message,
    MessageWire,
)
from helpcrunch_async.testing._dataset import EPOCH, NULL_TS, SPAN, Dataset
from helpcrunch_async.testing._splitmix import GOLDEN, MASK, mix

if TYPE_CHECKING:
    from helpcrunch_async.testing._team import Team

ChatSortField = Literal[
    "chats.createdAt", "chats.lastCustomerMessageAt", "chats.lastMessageAt", "chats.closedAt"
]
CHAT_SORT_FIELDS: tuple[str, ...] = get_args(ChatSortField)
# Orders kept for search: the four sorts plus updatedAt, which search filters on.
ORDER_FIELDS: tuple[str, ...] = (*CHAT_SORT_FIELDS, "chats.updatedAt")

_MESSAGE_GOLDEN = 0xC2B2AE3D27D4EB4F

_OPEN_STATUSES = ("opened", "pending", "on hold")
_RATINGS = ("great", "average", "poor")
_NOTE_TEXTS = ("Customer is on the Pro plan", "Escalated to Tier 2", "Refund approved")


class GeneratedChats:
    """The chats of one account as generated, served and ordered (``ChatData`` changes them)."""

    def __init__(
        self,
        size: int,
        seed: int,
        customers: Dataset,
        team: Team,
        *,
        messages_per_chat: float = 20.0,
        timestamps_as_strings: bool = False,
        with_updated_at: bool = False,
    ) -> None:
        """Keep the parameters; chats and messages are made on demand."""
        if size < 0:
            raise ValueError(f"chats must be >= 0, got {size}")
        if size and customers.size == 0:
            raise ValueError("chats need customers: give customers >= 1")
        if messages_per_chat < 0:
            raise ValueError("messages_per_chat must be >= 0")
        self.size = size
        self.seed = seed
        self.customers = customers
        self.team = team
        self.messages_per_chat = messages_per_chat
        self.timestamps_as_strings = timestamps_as_strings
        self.with_updated_at = with_updated_at
        self._salt = mix((seed * GOLDEN + 0x5EED) & MASK)
        # holding[a]: the departments agent a belongs to.
        self._holding = tuple(
            tuple(d for d, people in enumerate(team.members) if a in people)
            for a in range(len(team.agents))
        )
        self._changed: dict[int, Chat] = {}
        self._added_ids: list[int] = []
        self._deleted: set[int] = set()
        self._next_chat_id = FIRST_CHAT_ID + CHAT_STRIDE * (size + 1)
        self._next_message_id = FIRST_MESSAGE_ID + MESSAGE_STRIDE * (size + 1)
        self._rng = random.Random(f"helpcrunch-emulator-chat-drift-{seed}")
        self.version = 0
        # Key arrays (one entry per chat index) and the sorted views, built on demand.
        self._keys: dict[str, array[int]] = {}
        self._dirty: set[int] = set()
        self._sorted: dict[str | None, tuple[int, array[int], array[int]]] = {}

    # -- one chat ------------------------------------------------------------------

    @property
    def count(self) -> int:
        """The number of chat indices ever made (deleted ones included)."""
        return self.size + len(self._added_ids)

    @property
    def total(self) -> int:
        """The number of live chats."""
        return self.count - len(self._deleted)

    def chat_id(self, index: int) -> int:
        """Return the id of chat ``index``."""
        if index >= self.size:
            return self._added_ids[index - self.size]
        return FIRST_CHAT_ID + CHAT_STRIDE * index + self._hash(index) % CHAT_STRIDE

    def find(self, chat_id: int) -> int | None:
        """Return the index of the live chat with ``chat_id``, or None."""
        index = (chat_id - FIRST_CHAT_ID) // CHAT_STRIDE
        if not 0 <= index < self.size or self.chat_id(index) != chat_id:
            position = bisect.bisect_left(self._added_ids, chat_id)
            if position == len(self._added_ids) or self._added_ids[position] != chat_id:
                return None
            index = self.size + position
        return None if index in self._deleted else index

    def _hash(self, index: int) -> int:
        return mix((self._salt + index * GOLDEN) & MASK)

    def chat(self, index: int) -> Chat:
        """Return chat ``index`` as it is now."""
        changed = self._changed.get(index)
        return changed if changed is not None else self._base(index)

    def _base(self, index: int) -> Chat:
        h = self._hash(index)
        h2 = mix(h ^ 0xA5A5A5A5)
        h3 = mix(h2 ^ 0x3C3C3C3C)
        agents = len(self.team.agents)
        count = self._message_count(h)
        participants: tuple[int, ...] = ()
        if agents and (h2 & 0xFF) >= 38:  # about 15% of chats have no agent
            start = (h3 >> 4) % agents
            participants = tuple(
                (start + k) % agents for k in range(min(agents, 1 + (h2 >> 8) % 3))
            )
        assignee: int | None = participants[0] if participants else None
        if assignee is None and agents and (h3 >> 32) % 2:
            assignee = (h3 >> 36) % agents
        department = self._department_for(assignee, h3 >> 44)
        agent_started = bool(participants) and (h2 >> 16) % 10 == 0
        gap = 30 + (h2 >> 24) % 7200
        created_at = EPOCH + mix(h ^ 0x77) % SPAN
        chat = Chat(
            index=index,
            id=FIRST_CHAT_ID + CHAT_STRIDE * index + h % CHAT_STRIDE,
            customer_ref=h3 % self.customers.size,
            participants=participants,
            assignee=assignee,
            department=department,
            created_at=created_at,
            gap=gap,
            base_count=count,
            agent_started=agent_started,
            status="empty",
            closed_at=None,
            closed_by=None,
            rating=None,
            created_with="public_api",
            application_id=APPLICATION_IDS[0 if (h2 >> 40) % 5 else 1],
            snooze_days=1 + (h2 >> 44) % 6,
            salt=h3,
        )
        if count:
            chat.created_with = (
                "agent_message"
                if agent_started
                else ("public_api" if (h2 >> 48) % 33 == 0 else "customer_message")
            )
            wrote = self._wrote(chat)
            pick = (h2 >> 52) % 20
            if not wrote:
                chat.status = ("new", "new", "no communication", "closed")[pick % 4]
            elif pick < 11:
                chat.status = "closed"
            else:
                chat.status = _OPEN_STATUSES[pick % 3]
            if chat.status == "closed":
                last = self._draw(chat, count - 1)[1]
                chat.closed_at = last + 60 + (h3 >> 50) % 86_400
                chat.closed_by = "agent" if (h3 >> 8) % 10 < 7 and wrote else "customer"
                if wrote and (h3 >> 12) % 2:
                    chat.rating = _RATINGS[(h3 >> 14) % 3]
        return chat

    def _message_count(self, h: int) -> int:
        v = ((h >> 20) & 0xFFFF) / 65536.0
        if v < 0.03 or self.messages_per_chat <= 0:
            return 0
        u = (((h >> 36) & 0xFFFFFF) + 1) / 16_777_216.0
        # A Pareto tail (alpha 1.6): the mean lands near messages_per_chat.
        return min(int(self.messages_per_chat / 2.4 * u ** (-1 / 1.6)), MAX_BASE_MESSAGES)

    def _department_for(self, agent: int | None, bits: int) -> int | None:
        members = self.team.members
        if not members:
            return None
        if agent is not None:
            holding = self._holding[agent]
            if holding:
                return holding[bits % len(holding)]
        return None if bits % 10 < 7 else (bits >> 4) % len(members)

    def customer(self, chat: Chat) -> Customer:
        """Return the customer of ``chat``."""
        if chat.fixed_customer is not None:
            return chat.fixed_customer
        return self._customer(chat.customer_ref)

    def _customer(self, ref: int) -> Customer:
        data = self.customers
        rec = data.record(ref)
        live = data.find(rec.id)
        doc = None if live is None else data.doc(live)
        if doc is not None:  # written through the API: its own values
            tags = frozenset(tag["name"] for tag in doc["tags"])
            return Customer(rec.id, doc["name"], doc["email"], doc["userId"], tags)
        identity = data.decoded.identities[rec.identity]
        return Customer(
            rec.id,
            identity["name"],
            identity["email"],
            identity["userId"],
            data.decoded.tags[rec.profile],
        )

    @staticmethod
    def _wrote(chat: Chat) -> list[int]:
        # Replies 1..p come from the participants in turn (message 0 too if an agent began).
        p = len(chat.participants)
        replies = min(p, chat.base_count - (0 if chat.agent_started else 1))
        wrote = list(chat.participants[: max(replies, 0)])
        for message in chat.extras:
            if message.agent is not None and message.type != "tech" and message.agent not in wrote:
                wrote.append(message.agent)
        return wrote

    # -- messages ------------------------------------------------------------------

    def message_count(self, chat: Chat) -> int:
        """Return how many messages ``chat`` has."""
        return chat.base_count + len(chat.extras)

    def message(self, chat: Chat, j: int) -> Message:
        """Return message ``j`` (0 = oldest) of ``chat``."""
        if j >= chat.base_count:
            return chat.extras[j - chat.base_count]
        h, time, agent = self._draw(chat, j)
        p = len(chat.participants)
        kind = "message"
        broadcast = None
        pick = (h >> 24) % 100
        if agent is None:
            text = CUSTOMER_TEXTS[(h >> 32) % len(CUSTOMER_TEXTS)]
            if pick < 5:
                kind = "email"
        else:
            text = AGENT_TEXTS[(h >> 32) % len(AGENT_TEXTS)]
            if j == 0 and pick < 30:
                broadcast = "auto chat"
            elif j > p and pick < 7:
                kind, text = "private", _NOTE_TEXTS[(h >> 32) % len(_NOTE_TEXTS)]
            elif j > p and pick < 12:
                kind, text, agent = "tech", "Chat status changed", None
        edited_at = time + 1 + (h >> 40) % 600 if (h >> 50) % 33 == 0 else None
        newest = j >= chat.base_count - 2
        return Message(
            id=FIRST_MESSAGE_ID + MESSAGE_STRIDE * chat.index + j,
            time=time,
            sender="customer" if agent is None and kind != "tech" else "agent",
            agent=agent,
            type=kind,
            text=text,
            read=not (newest and (h >> 56) % 2),
            edited_at=edited_at,
            broadcast_type=broadcast,
        )

    @staticmethod
    def _draw(chat: Chat, j: int) -> tuple[int, int, int | None]:
        # Base message j's hash, time and author (None: the customer); tech messages
        # are drawn as agent messages and lose their agent in ``message``.
        h = mix((chat.salt + (j + 1) * _MESSAGE_GOLDEN) & MASK)
        time = chat.created_at + j * chat.gap + h % chat.gap
        p = len(chat.participants)
        if j == 0:
            agent = chat.participants[0] if chat.agent_started else None
        elif j <= p:
            agent = chat.participants[j - 1]
        elif p and (h >> 16) % 2:
            agent = chat.participants[(h >> 17) % p]
        else:
            agent = None
        return h, time, agent

    def times(self, chat: Chat) -> tuple[int, int, int]:
        """Return (newest message time, newest customer message time, updatedAt).

        ``NULL_TS`` stands for null. Cheaper than ``derive``: what the orders need.
        """
        newest = last_customer = NULL_TS
        for message in reversed(chat.extras):
            if newest == NULL_TS:
                newest = message.time
            if message.sender == "customer":
                last_customer = message.time
                break
        j = chat.base_count - 1
        if newest == NULL_TS and j >= 0:
            newest = self._draw(chat, j)[1]
        while last_customer == NULL_TS and j >= 0:
            _, time, agent = self._draw(chat, j)
            if agent is None:
                last_customer = time
            j -= 1
        updated = max(
            chat.created_at,
            newest,
            chat.closed_at if chat.closed_at is not None else NULL_TS,
            chat.changed_at if chat.changed_at is not None else NULL_TS,
        )
        return newest, last_customer, updated

    def derive(self, chat: Chat) -> Derived:
        """Return what the messages say about ``chat``: newest, last customer's time, ..."""
        count = self.message_count(chat)
        newest = self.message(chat, count - 1) if count else None
        last_customer_at: int | None = None
        last_agent: int | None = None
        j = count - 1
        while j >= 0 and (last_customer_at is None or last_agent is None):
            message = newest if j == count - 1 and newest is not None else self.message(chat, j)
            if message.sender == "customer" and last_customer_at is None:
                last_customer_at = message.time
            if message.agent is not None and last_agent is None:
                last_agent = message.agent
            j -= 1
        updated = max(
            chat.created_at,
            newest.time if newest is not None else NULL_TS,
            chat.closed_at if chat.closed_at is not None else NULL_TS,
            chat.changed_at if chat.changed_at is not None else NULL_TS,
        )
        return Derived(count, newest, last_customer_at, last_agent, self._wrote(chat), updated)

    # -- encoding ------------------------------------------------------------------

    def _ts(self, value: int | None) -> int | str | None:
        if value is None:
            return None
        return str(value) if self.timestamps_as_strings else value

    def _ts_required(self, value: int) -> int | str:
        return str(value) if self.timestamps_as_strings else value

    def _agent(self, index: int | None) -> AgentRef | None:
        if index is None:
            return None
        agent = self.team.agents[index]
        return AgentRef(agent.id, agent.name, agent.email, agent.role)

    def wire(self, chat: Chat) -> ChatWire:
        """Return ``chat`` as the API serialises it."""
        d = self.derive(chat)
        newest = d.newest
        snoozed = chat.snoozed_until
        if snoozed is None and chat.status == "on hold" and newest is not None:
            snoozed = newest.time + chat.snooze_days * 86_400
        elif snoozed == NULL_TS:  # unsnoozed through the API
            snoozed = None
        read_by_agent = chat.read_by.get(
            "agent", chat.status == "closed" or (newest is not None and newest.agent is not None)
        )
        department = None
        if chat.department is not None:
            dep = self.team.departments[chat.department]
            department = DepartmentRef(dep.id, dep.name)
        customer = self.customer(chat)
        fields: dict[str, Any] = {
            "id": chat.id,
            "closed_by": chat.closed_by,
            "last_customer_message_at": self._ts(d.last_customer_at),
            "status": chat.status,
            "closed_at": self._ts(chat.closed_at),
            "rating": chat.rating,
            "created_at": self._ts(chat.created_at),
            "last_message_at": self._ts(newest.time if newest else None),
            "read_by_agent": read_by_agent,
            "read_by_customer": chat.read_by.get(
                "customer", newest is not None and (newest.sender == "customer" or newest.read)
            ),
            "created_with": chat.created_with,
            "snoozed_until": self._ts(snoozed),
            "last_message_text": newest.text if newest else None,
            "last_message_id": newest.id if newest else None,
            "application_id": chat.application_id,
            "last_communicated_agent_id": (
                None if d.last_agent is None else self.team.agents[d.last_agent].id
            ),
            "agents": [a for a in map(self._agent, d.wrote) if a is not None],
            "customer": CustomerRef(customer.id, customer.name, customer.email, customer.user_id),
            "assignee": self._agent(chat.assignee),
            "department": department,
        }
        if self.with_updated_at:
            return ChatWithUpdatedAt(**fields, updated_at=self._ts_required(d.updated_at))
        return ChatWire(**fields)

    def chat_json(self, index: int) -> bytes:
        """Return the JSON bytes of chat ``index``."""
        return msgspec.json.encode(self.wire(self.chat(index)))

    def message_wire(self, chat: Chat, message: Message) -> MessageWire:
        """Return ``message`` of ``chat`` as the API serialises it."""
        return MessageWire(
            id=message.id,
            agent=self._agent(message.agent),
            type=message.type,
            text=message.text,
            read=message.read,
            created_at=self._ts_required(message.time),
            updated_at=self._ts(message.edited_at or message.time),
            edited=message.edited_at is not None,
            broadcast_type=message.broadcast_type,
            chat=chat.id,
            from_=message.sender,
        )

    def messages_json(
        self, index: int, offset: int, limit: int, *, oldest_first: bool = False
    ) -> tuple[int, list[bytes]]:
        """Return the chat's message total and the JSON of messages ``[offset, offset+limit)``.

        Position 0 is the newest message (the oldest with ``oldest_first``).
        """
        chat = self.chat(index)
        count = self.message_count(chat)
        stop = min(count, offset + limit)
        return count, [
            msgspec.json.encode(
                self.message_wire(chat, self.message(chat, k if oldest_first else count - 1 - k))
            )
            for k in range(offset, stop)
        ]

    # -- orders --------------------------------------------------------------------

    def live(self) -> list[int]:
        """Return every live chat index in id order."""
        if not self._deleted:
            return list(range(self.count))
        return [i for i in range(self.count) if i not in self._deleted]

    def key(self, field: str, index: int) -> int:
        """Return chat ``index``'s timestamp for an order field (``NULL_TS`` for null)."""
        self._ensure_keys()
        return self._keys[field][index]

    def _ensure_keys(self) -> None:
        count = self.count
        if not self._keys:
            self._keys = {field: array("q", bytes(8 * count)) for field in ORDER_FIELDS}
            self._dirty = set(range(count))
        for field in ORDER_FIELDS:
            keys = self._keys[field]
            if len(keys) < count:
                keys.extend([NULL_TS] * (count - len(keys)))
        if not self._dirty:
            return
        created, customer, last, closed, updated = (self._keys[f] for f in ORDER_FIELDS)
        for index in self._dirty:
            chat = self.chat(index)
            created[index] = chat.created_at
            last[index], customer[index], updated[index] = self.times(chat)
            closed[index] = NULL_TS if chat.closed_at is None else chat.closed_at
        self._dirty.clear()

    def view(self, field: str | None) -> tuple[array[int], array[int]]:
        """Return (live indices in ascending order, their sort composites) for ``field``.

        The composite of index ``i`` is ``(ts - NULL_TS) * count + i``: sorting by it
        sorts by ``(timestamp, id)``; for id order it is ``i`` itself.
        """
        cached = self._sorted.get(field)
        if cached is not None and cached[0] == self.version:
            return cached[1], cached[2]
        live = self.live()
        if field is None:
            order = array("q", live)
            composite = array("q", live)
        else:
            if field not in ORDER_FIELDS:
                raise ValueError(f"unknown chat order {field!r}")
            self._ensure_keys()
            keys = self._keys[field]
            n = self.count
            composite = array("q", sorted((keys[i] - NULL_TS) * n + i for i in live))
            order = array("q", (c % n for c in composite))
        self._sorted[field] = (self.version, order, composite)
        return order, composite

    def ids(self, field: str | None = None, *, descending: bool = False) -> list[int]:
        """Return every live chat id in the given order."""
        order, _ = self.view(field)
        ids = [self.chat_id(i) for i in order]
        if descending:
            ids.reverse()
        return ids

    def page(self, field: str | None, offset: int, limit: int, *, descending: bool) -> list[int]:
        """Return the chat indices at ``[offset, offset + limit)`` of an order."""
        # Id order with nothing deleted is the index range: no view to build.
        order: array[int] | range = (
            range(self.count) if field is None and not self._deleted else self.view(field)[0]
        )
        total = len(order)
        if offset >= total or limit <= 0:
            return []
        if not descending:
            return list(order[offset : offset + limit])
        stop = total - offset
        chunk = list(order[max(stop - limit, 0) : stop])
        chunk.reverse()
        return chunk

    def rank(self, field: str | None, low: int) -> int:
        """Return how many live chats have a key below ``low`` in the ``field`` order.

        ``low`` is a timestamp for a field, or a chat id for id order.
        """
        if field is None:
            bound = self._index_bound(low)
            if not self._deleted:
                return bound
            return bisect.bisect_left(self.view(None)[0], bound)
        _, composite = self.view(field)
        return bisect.bisect_left(composite, (max(low, NULL_TS) - NULL_TS) * self.count)

    def _index_bound(self, chat_id: int) -> int:
        # The number of chat indices whose id is below chat_id (ids grow with indices).
        base = bisect.bisect_left(range(self.size), chat_id, key=self.chat_id)
        if base < self.size:
            return base
        return self.size + bisect.bisect_left(self._added_ids, chat_id)
