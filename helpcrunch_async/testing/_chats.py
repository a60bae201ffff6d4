# ruff: noqa: PLR2004 -- the synthetic data's shares are literal percentages and counts
"""Deterministic chats and their messages, generated on demand, with drift.

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
import dataclasses
import random
from array import array
from typing import TYPE_CHECKING, Any, Literal, get_args

import msgspec

from helpcrunch_async.testing._dataset import EPOCH, NULL_TS, SPAN, Dataset

if TYPE_CHECKING:
    from collections.abc import Iterable

    from helpcrunch_async.testing._team import Team

ChatSortField = Literal[
    "chats.createdAt", "chats.lastCustomerMessageAt", "chats.lastMessageAt", "chats.closedAt"
]
CHAT_SORT_FIELDS: tuple[str, ...] = get_args(ChatSortField)
# Orders kept for search: the four sorts plus updatedAt, which search filters on.
ORDER_FIELDS: tuple[str, ...] = (*CHAT_SORT_FIELDS, "chats.updatedAt")

FIRST_CHAT_ID = 7_000_000
CHAT_STRIDE = 3
FIRST_MESSAGE_ID = 50_000_000
MESSAGE_STRIDE = 1024
MAX_BASE_MESSAGES = 500
APPLICATION_IDS = (2, 77)

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MESSAGE_GOLDEN = 0xC2B2AE3D27D4EB4F

_OPEN_STATUSES = ("opened", "pending", "on hold")
_RATINGS = ("great", "average", "poor")
_CUSTOMER_TEXTS = (
    "Hi! I can't log in since this morning.",
    "Any update?",
    "Thanks, that worked 🎉",
    'It says "error 42", what does it mean?',
    "Where is my invoice, please?",
    "Line one\nline two",
    "Можна українською?",
    "请问怎么退款\uff1f",
    'Commas, quotes " and newlines\r\nall at once',
    "ok",
)
_AGENT_TEXTS = (
    "Hello! Let me check that for you.",
    "We shipped it today.",
    "Could you send a screenshot?",
    'Your invoice is on its way: https://example.com/inv?id=1&x="2"',
    "Fixed on our side, please try again.",
    "Thanks for waiting 🙏",
)
_NOTE_TEXTS = ("Customer is on the Pro plan", "Escalated to Tier 2", "Refund approved")


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


class _AgentRef(msgspec.Struct, frozen=True):
    id: int
    name: str
    email: str
    role: str


class _DepartmentRef(msgspec.Struct, frozen=True):
    id: int
    name: str


class _CustomerRef(msgspec.Struct, frozen=True, rename="camel"):
    id: int
    name: str | None
    email: str | None
    user_id: str | None


class ChatWire(msgspec.Struct, rename="camel"):
    """A chat as the newest chat model documents it, in the model's field order."""

    id: int
    closed_by: str | None
    last_customer_message_at: int | str | None
    status: str
    closed_at: int | str | None
    rating: str | None
    created_at: int | str
    last_message_at: int | str | None
    read_by_agent: bool
    read_by_customer: bool
    created_with: str
    snoozed_until: int | str | None
    last_message_text: str | None
    last_message_id: int | None
    application_id: int
    last_communicated_agent_id: int | None
    agents: list[_AgentRef]
    customer: _CustomerRef
    assignee: _AgentRef | None
    department: _DepartmentRef | None


class ChatWithUpdatedAt(ChatWire, rename="camel"):
    """A chat with ``updatedAt`` too (the ``chats_updated_at`` variant)."""

    updated_at: int | str


class MessageWire(msgspec.Struct, rename="camel"):
    """A message as the newest message model documents it."""

    id: int
    agent: _AgentRef | None
    type: str
    text: str | None
    read: bool
    created_at: int | str
    updated_at: int | str | None
    edited: bool
    broadcast_type: str | None
    chat: int
    from_: str = msgspec.field(name="from")


@dataclasses.dataclass(slots=True)
class Message:
    """One message before encoding (agent is an agent index or None)."""

    id: int
    time: int
    sender: str  # "customer" or "agent"
    agent: int | None
    type: str
    text: str
    read: bool
    edited_at: int | None
    broadcast_type: str | None


@dataclasses.dataclass(slots=True)
class Customer:
    """The customer a chat belongs to, with what chat search compares."""

    id: int
    name: str | None
    email: str | None
    user_id: str | None
    tags: frozenset[str]


@dataclasses.dataclass(slots=True)
class Chat:
    """One chat's state; base chats are rebuilt from the hash, changed ones stored."""

    index: int
    id: int
    customer_ref: int
    participants: tuple[int, ...]
    assignee: int | None
    department: int | None
    created_at: int
    gap: int
    base_count: int
    agent_started: bool
    status: str
    closed_at: int | None
    closed_by: str | None
    rating: str | None
    created_with: str
    application_id: int
    snooze_days: int
    salt: int
    extras: list[Message] = dataclasses.field(default_factory=list)
    changed_at: int | None = None
    # Set for chats made by drift (their customer may be deleted later).
    fixed_customer: Customer | None = None
    # Set by the API's writes (``_chat_writes``): they override what the messages say
    # (``snoozed_until`` NULL_TS: unsnoozed).
    snoozed_until: int | None = None
    read_by: dict[str, bool] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(slots=True)
class Derived:
    """What a chat's messages say about it, computed without reading them all."""

    count: int
    newest: Message | None
    last_customer_at: int | None
    last_agent: int | None
    wrote: list[int]
    updated_at: int


class ChatData:
    """The chats and messages of one account, on top of its customers and team."""

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
        self._salt = _mix((seed * _GOLDEN + 0x5EED) & _MASK)
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
        return _mix((self._salt + index * _GOLDEN) & _MASK)

    def chat(self, index: int) -> Chat:
        """Return chat ``index`` as it is now."""
        changed = self._changed.get(index)
        return changed if changed is not None else self._base(index)

    def _base(self, index: int) -> Chat:
        h = self._hash(index)
        h2 = _mix(h ^ 0xA5A5A5A5)
        h3 = _mix(h2 ^ 0x3C3C3C3C)
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
        created_at = EPOCH + _mix(h ^ 0x77) % SPAN
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
            text = _CUSTOMER_TEXTS[(h >> 32) % len(_CUSTOMER_TEXTS)]
            if pick < 5:
                kind = "email"
        else:
            text = _AGENT_TEXTS[(h >> 32) % len(_AGENT_TEXTS)]
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
        h = _mix((chat.salt + (j + 1) * _MESSAGE_GOLDEN) & _MASK)
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

    def _agent(self, index: int | None) -> _AgentRef | None:
        if index is None:
            return None
        agent = self.team.agents[index]
        return _AgentRef(agent.id, agent.name, agent.email, agent.role)

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
            department = _DepartmentRef(dep.id, dep.name)
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
            "customer": _CustomerRef(customer.id, customer.name, customer.email, customer.user_id),
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

    # -- drift -----------------------------------------------------------------------

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
        texts = _CUSTOMER_TEXTS if agent is None else _AGENT_TEXTS
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
