"""The webhook events: one typed Struct per documented event type, every payload quirk normalised.

HelpCrunch posts an envelope ``{"event", "eventData", "attempts",
"lastAttemptAt", "createdAt", "id"}``. Each documented ``event`` (7 chat, 8
customer, 5 message types) decodes to its own Struct, tagged by ``event``
(``msgspec.json.encode`` writes it back), with the envelope (``id``,
``created_at``, ``last_attempt_at``, ``attempts``) and the ids a handler needs
to fetch more (``chat_id``, ``customer_id``). A type this module does not know
becomes `UnknownEvent`, its ``eventData`` kept as a dict.

The quirks, each turned into one shape here and nowhere else (the timestamps
and ``customData`` through the REST models' own normalisation, `common`):

* The envelope's ``createdAt`` / ``lastAttemptAt`` are integers; the
  timestamps inside ``eventData`` are strings with milliseconds
  (``"1607540767.414"``). Every variant becomes whole unix seconds.
* ``eventData`` is an object, or (seen by a consumer, not documented) a JSON
  string that holds one: the string is decoded once more.
* The chat id is ``eventData.chat_id``, in snake case amid camelCase keys; a
  ``chatId``, or for chat events an ``id``, is read when it is absent. A chat
  event that carries none of them has ``chat_id`` None (the vendor page does
  not show the key); a message event must carry one.
* ``communicatedAgents`` lists agent ids, not agent objects as REST does; an
  object with an ``id`` is read as its id, so both become ``list[int]``.
* ``customData`` is a map (webhooks) or a ``[{property, value}]`` list (REST):
  both become ``list[CustomDataItem]`` (`Customer`'s own hook).
* Chat statuses in any documented spelling become the chat model's
  (``on hold`` -> ``onhold``).
* A webhook's ``message`` has no ``chat`` key: it is set to the event's chat id.

Errors are msgspec's own (`msgspec.DecodeError`: not JSON; `msgspec.ValidationError`
with the JSON path: the wrong shape) or `RecursionError` (nested too deeply):
the caller (`helpcrunch_async.webhooks.parse`) turns them into
`WebhookPayloadError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import msgspec

# The Structs' field types: msgspec reads the annotations at run time.
from helpcrunch_async._models.agents import Agent  # noqa: TC001 -- read at run time
from helpcrunch_async._models.chats import ChatCustomer, ChatDepartment  # noqa: TC001 -- same
from helpcrunch_async._models.common import (
    CLEAN_TIMESTAMP,
    Count,
    Int64,
    chat_status,
    seconds,
)
from helpcrunch_async._models.customers import Customer
from helpcrunch_async._models.messages import Message  # noqa: TC001 -- same

__all__ = [
    "EVENT_TYPES",
    "ChatAssigned",
    "ChatClosed",
    "ChatEvent",
    "ChatNew",
    "ChatRated",
    "ChatSnoozed",
    "ChatStatusUpdated",
    "ChatUnsnoozed",
    "CustomerBlocked",
    "CustomerDeleted",
    "CustomerEmailUpdated",
    "CustomerEvent",
    "CustomerNew",
    "CustomerSubscribed",
    "CustomerTagsChanged",
    "CustomerUnblocked",
    "CustomerUnsubscribed",
    "Event",
    "EventId",
    "MessageChatAgent",
    "MessageChatCustomer",
    "MessageEmailAgent",
    "MessageEmailCustomer",
    "MessageEvent",
    "MessagePrivate",
    "UnknownEvent",
    "WebhookChat",
    "decode_event",
]

MAX_EVENT_ID_LENGTH = 200
"""The longest event id accepted: ids are UUIDs (36 characters); a megabyte id is an attack."""

EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_EVENT_ID_LENGTH)]
"""An event's ``id`` as the envelope may carry it."""

_Timestamp = int | float | str | None


# -- the public shapes -----------------------------------------------------------


class WebhookChat(msgspec.Struct, kw_only=True, gc=False):
    """A chat as a chat event carries it (a webhook flavour of `Chat`).

    Timestamps are whole unix seconds. ``communicated_agents`` holds agent ids
    (fetch the agents for more); ``closed_by`` is what the payload says
    (``"agent"``, ``"customer"``, an agent id, or None).
    """

    chat_id: int | None = None
    status: str | None = None
    customer: ChatCustomer | None = None
    assignee: Agent | None = None
    department: ChatDepartment | None = None
    communicated_agents: list[int] = msgspec.field(default_factory=list)
    closed_by: str | int | None = None
    rating: str | None = None
    created_at: int | None = None
    closed_at: int | None = None
    snoozed_until: int | None = None
    application_id: int | None = None


# Untracked by the cycle collector (``gc=False``), as `Customer` is: an event holds
# scalars and scalar-only Structs, never a cycle unless one is built on purpose.
class Event(msgspec.Struct, kw_only=True, gc=False, tag_field="event"):
    """What every delivery carries: the envelope. Match on the subclasses.

    ``id`` is the event's id (the same on every delivery attempt: the key of
    deduplication); ``created_at`` when the event happened and
    ``last_attempt_at`` when this delivery attempt was made, in unix seconds;
    ``attempts`` the delivery attempts made before.
    """

    id: str
    created_at: int | None = None
    last_attempt_at: int | None = None
    attempts: int = 0


class _Known(Event):
    """An event of a documented type; ``name`` is its ``event`` string."""

    @property
    def name(self) -> str:
        """The event type, as HelpCrunch names it (``"chat.new"``)."""
        return _NAMES[type(self)]


class ChatEvent(_Known):
    """A chat event: ``chat_id`` (None when the payload has none) and the chat."""

    chat_id: int | None
    customer_id: int | None
    chat: WebhookChat


class CustomerEvent(_Known):
    """A customer event: ``customer_id`` and the customer with its custom data."""

    customer_id: int
    customer: Customer


class MessageEvent(_Known):
    """A message event: ``chat_id``, the message, and who wrote it.

    ``agent`` is None for a customer's message; ``customer`` is the chat's customer.
    """

    chat_id: int
    customer_id: int | None
    message: Message
    agent: Agent | None = None
    customer: ChatCustomer | None = None


class ChatNew(ChatEvent, tag="chat.new"):
    """``chat.new``: a customer created a chat."""


class ChatStatusUpdated(ChatEvent, tag="chat.status_updated"):
    """``chat.status_updated``: the status changed, by hand or automatically."""


class ChatAssigned(ChatEvent, tag="chat.assigned"):
    """``chat.assigned``: the assignee changed (``chat.assignee``)."""


class ChatSnoozed(ChatEvent, tag="chat.snoozed"):
    """``chat.snoozed``: the chat was snoozed (``chat.snoozed_until``)."""


class ChatUnsnoozed(ChatEvent, tag="chat.unsnoozed"):
    """``chat.unsnoozed``: the chat was unsnoozed."""


class ChatClosed(ChatEvent, tag="chat.closed"):
    """``chat.closed``: an agent or the customer closed the chat."""


class ChatRated(ChatEvent, tag="chat.rated"):
    """``chat.rated``: the customer rated the chat (``chat.rating``)."""


class CustomerNew(CustomerEvent, tag="customer.new"):
    """``customer.new``: a customer was added."""


class CustomerEmailUpdated(CustomerEvent, tag="customer.email_updated"):
    """``customer.email_updated``: the email changed (to None counts too)."""


class CustomerTagsChanged(CustomerEvent, tag="customer.tags_changed"):
    """``customer.tags_changed``: the tags changed (removing all counts too)."""


class CustomerUnsubscribed(CustomerEvent, tag="customer.unsubscribed"):
    """``customer.unsubscribed``: the customer opted out of email."""


class CustomerSubscribed(CustomerEvent, tag="customer.subscribed"):
    """``customer.subscribed``: the customer opted in to email."""


class CustomerBlocked(CustomerEvent, tag="customer.blocked"):
    """``customer.blocked``: a team member blocked the customer."""


class CustomerUnblocked(CustomerEvent, tag="customer.unblocked"):
    """``customer.unblocked``: a team member unblocked the customer."""


class CustomerDeleted(CustomerEvent, tag="customer.deleted"):
    """``customer.deleted``: the customer was deleted."""


class MessageChatCustomer(MessageEvent, tag="message.chat.customer"):
    """``message.chat.customer``: a customer wrote in a chat."""


class MessageEmailCustomer(MessageEvent, tag="message.email.customer"):
    """``message.email.customer``: a customer's email arrived."""


class MessagePrivate(MessageEvent, tag="message.private"):
    """``message.private``: a team member wrote a private note."""


class MessageChatAgent(MessageEvent, tag="message.chat.agent"):
    """``message.chat.agent``: a team member wrote in a chat."""


class MessageEmailAgent(MessageEvent, tag="message.email.agent"):
    """``message.email.agent``: a team member sent an email."""


class UnknownEvent(Event, gc=True, tag=False):
    """An event of a type this version does not know: kept, not fatal.

    ``name`` is its ``event`` string and ``data`` its ``eventData`` object. Untagged:
    encoded, it holds ``name``, not ``event``.
    """

    name: str
    data: dict[str, Any] = msgspec.field(default_factory=dict)


def _tag(cls: type[_Known]) -> str:
    return str(cls.__struct_config__.tag)


_CHAT_EVENTS: tuple[type[ChatEvent], ...] = (
    ChatNew,
    ChatStatusUpdated,
    ChatAssigned,
    ChatSnoozed,
    ChatUnsnoozed,
    ChatClosed,
    ChatRated,
)
_CUSTOMER_EVENTS: tuple[type[CustomerEvent], ...] = (
    CustomerNew,
    CustomerEmailUpdated,
    CustomerTagsChanged,
    CustomerUnsubscribed,
    CustomerSubscribed,
    CustomerBlocked,
    CustomerUnblocked,
    CustomerDeleted,
)
_MESSAGE_EVENTS: tuple[type[MessageEvent], ...] = (
    MessageChatCustomer,
    MessageEmailCustomer,
    MessagePrivate,
    MessageChatAgent,
    MessageEmailAgent,
)

EVENT_TYPES: dict[str, type[_Known]] = {
    _tag(cls): cls for cls in (*_CHAT_EVENTS, *_CUSTOMER_EVENTS, *_MESSAGE_EVENTS)
}
"""Every documented event type, by its ``event`` string, in the vendor's order."""

_NAMES = {cls: name for name, cls in EVENT_TYPES.items()}


# -- the wire shapes -------------------------------------------------------------


class _Envelope(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    event: str
    id: EventId
    # Empty when the envelope has no eventData (read as an empty object).
    event_data: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    attempts: Count = 0
    if TYPE_CHECKING:
        created_at: int | None = None
        last_attempt_at: int | None = None
    else:
        created_at: _Timestamp = None
        last_attempt_at: _Timestamp = None

    def __post_init__(self) -> None:
        created: _Timestamp = self.created_at
        last: _Timestamp = self.last_attempt_at
        if type(created) not in CLEAN_TIMESTAMP:
            self.created_at = seconds(created, "createdAt")
        if type(last) not in CLEAN_TIMESTAMP:
            self.last_attempt_at = seconds(last, "lastAttemptAt")


class _Ref(msgspec.Struct, gc=False):
    """An object that stands for something by its ``id`` (an agent in ``communicatedAgents``)."""

    id: Int64


class _WireChat(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    snake_chat_id: Int64 | None = msgspec.field(default=None, name="chat_id")
    chat_id: Int64 | None = None
    id: Int64 | None = None
    status: str | None = None
    customer: ChatCustomer | None = None
    assignee: Agent | None = None
    department: ChatDepartment | None = None
    communicated_agents: list[Int64 | _Ref] = msgspec.field(default_factory=list)
    closed_by: str | Int64 | _Ref | None = None
    rating: str | None = None
    created_at: _Timestamp = None
    closed_at: _Timestamp = None
    snoozed_until: _Timestamp = None
    application_id: Int64 | None = None

    def __post_init__(self) -> None:
        # Here, not in `normalised`, so that msgspec reports a bad one with its path.
        self.created_at = seconds(self.created_at, "createdAt")
        self.closed_at = seconds(self.closed_at, "closedAt")
        self.snoozed_until = seconds(self.snoozed_until, "snoozedUntil")

    def normalised(self) -> WebhookChat:
        chat_id = _first(self.snake_chat_id, self.chat_id, self.id)
        closed_by = self.closed_by
        return WebhookChat(
            chat_id=chat_id,
            status=None if self.status is None else chat_status(self.status),
            customer=self.customer,
            assignee=self.assignee,
            department=self.department,
            communicated_agents=[a if type(a) is int else a.id for a in self.communicated_agents],  # type: ignore[union-attr]  # an int or a _Ref
            closed_by=closed_by.id if isinstance(closed_by, _Ref) else closed_by,
            rating=self.rating,
            created_at=self.created_at,  # type: ignore[arg-type]  # made an int | None above
            closed_at=self.closed_at,  # type: ignore[arg-type]  # made an int | None above
            snoozed_until=self.snoozed_until,  # type: ignore[arg-type]  # made an int | None above
            application_id=self.application_id,
        )


class _WireMessageData(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    snake_chat_id: Int64 | None = msgspec.field(default=None, name="chat_id")
    chat_id: Int64 | None = None
    agent: Agent | None = None
    customer: ChatCustomer | None = None
    message: Message


def _first(*values: int | None) -> int | None:
    return next((value for value in values if value is not None), None)


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_TEXT = msgspec.json.Decoder(str)
_OBJECT = msgspec.json.Decoder(dict[str, Any])
_CHAT = msgspec.json.Decoder(_WireChat)
_CUSTOMER = msgspec.json.Decoder(Customer)
_MESSAGE = msgspec.json.Decoder(_WireMessageData)


def decode_event(body: bytes) -> Event:
    """Decode a delivery's body into its typed event (see the module docstring).

    Raises `msgspec.DecodeError` (not JSON), `msgspec.ValidationError` (the
    wrong shape, with the JSON path) or `RecursionError` (nested too deeply).
    """
    envelope = _ENVELOPE.decode(body)
    data = bytes(envelope.event_data) or b"{}"
    if data[:1] == b'"':
        data = _TEXT.decode(data).encode()
    try:
        return _typed(envelope, data)
    except msgspec.ValidationError as exc:
        # The inner decode's paths start at eventData; say so.
        text = str(exc)
        text = (
            text.replace("`$", "`$.eventData", 1) if "`$" in text else f"{text} - at `$.eventData`"
        )
        raise msgspec.ValidationError(text) from None


def _typed(envelope: _Envelope, data: bytes) -> Event:
    cls = EVENT_TYPES.get(envelope.event)
    head: dict[str, Any] = {
        "id": envelope.id,
        "created_at": envelope.created_at,
        "last_attempt_at": envelope.last_attempt_at,
        "attempts": envelope.attempts,
    }
    if cls is None:
        return UnknownEvent(name=envelope.event, data=_OBJECT.decode(data), **head)
    if issubclass(cls, ChatEvent):
        chat = _CHAT.decode(data).normalised()
        customer_id = None if chat.customer is None else chat.customer.id
        return cls(chat_id=chat.chat_id, customer_id=customer_id, chat=chat, **head)
    if issubclass(cls, CustomerEvent):
        customer = _CUSTOMER.decode(data)
        return cls(customer_id=customer.id, customer=customer, **head)
    wire = _MESSAGE.decode(data)
    message = wire.message
    chat_id = _first(wire.snake_chat_id, wire.chat_id, message.chat)
    if chat_id is None:
        raise msgspec.ValidationError("a message event carries no `chat_id` - at `$`")
    if message.chat is None:
        message.chat = chat_id
    customer_id = None if wire.customer is None else wire.customer.id
    return cls(  # type: ignore[call-arg]  # the message family: the last kind left
        chat_id=chat_id,
        customer_id=customer_id,
        message=message,
        agent=wire.agent,
        customer=wire.customer,
        **head,
    )
