"""What a chat and a message are: in memory, on the wire, and the numbers ids are made of."""

from __future__ import annotations

import dataclasses

import msgspec

FIRST_CHAT_ID = 7_000_000
CHAT_STRIDE = 3
FIRST_MESSAGE_ID = 50_000_000
MESSAGE_STRIDE = 1024
MAX_BASE_MESSAGES = 500
APPLICATION_IDS = (2, 77)
CUSTOMER_TEXTS = (
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
AGENT_TEXTS = (
    "Hello! Let me check that for you.",
    "We shipped it today.",
    "Could you send a screenshot?",
    'Your invoice is on its way: https://example.com/inv?id=1&x="2"',
    "Fixed on our side, please try again.",
    "Thanks for waiting 🙏",
)


class AgentRef(msgspec.Struct, frozen=True):
    """A chat's agent as the wire shows it."""

    id: int
    name: str
    email: str
    role: str


class DepartmentRef(msgspec.Struct, frozen=True):
    """A chat's department as the wire shows it."""

    id: int
    name: str


class CustomerRef(msgspec.Struct, frozen=True, rename="camel"):
    """A chat's customer as the wire shows it."""

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
    agents: list[AgentRef]
    customer: CustomerRef
    assignee: AgentRef | None
    department: DepartmentRef | None


class ChatWithUpdatedAt(ChatWire, rename="camel"):
    """A chat with ``updatedAt`` too (the ``chats_updated_at`` variant)."""

    updated_at: int | str


class MessageWire(msgspec.Struct, rename="camel"):
    """A message as the newest message model documents it."""

    id: int
    agent: AgentRef | None
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
