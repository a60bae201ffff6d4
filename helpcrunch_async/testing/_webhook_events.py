"""What the emulator's webhooks say: the 20 event types, their payloads, the envelope.

Pure: no sockets, no clock. Payloads are made from the records exactly as the emulated
REST API serialises them (dicts), so a delivery and a later ``GET`` agree, in the
webhook flavour the reference documents (``../shared/reference/api/webhooks.md``):

1. The envelope is ``{"event", "eventData", "attempts", "lastAttemptAt", "createdAt",
   "id"}`` in that order; ``createdAt`` and ``lastAttemptAt`` are integer unix seconds,
   ``attempts`` counts the earlier attempts (0 on the first, as the vendor's example).
2. Timestamps inside ``eventData`` are strings with milliseconds (``"1607540767.414"``);
   the REST side has whole seconds, so the milliseconds are a fraction added below
   the second the API reports, drawn from the value itself (the same every time).
3. Chat events: ``chat_id`` (snake case, where REST says ``id``), ``communicatedAgents``
   as agent ids (REST has ``agents`` objects), the customer as ``{id, name, email,
   userId}``, ``assignee`` and ``department`` objects or null, ``closedBy``, ``status``,
   ``closedAt``, ``rating``, ``createdAt``, ``snoozedUntil``, ``applicationId``.
4. Customer events: ``id``, ``name``, ``userId``, ``email``, ``phone``, ``company``,
   ``unsubscribed``, ``blocked``, ``tags`` and ``customData`` as a map
   ``{property: value}`` (REST sends a list of ``{property, value}``).
5. Message events: ``chat_id``, ``agent`` (null for a customer's message), the chat's
   ``customer``, and ``message`` with ``applicationId``, ``broadcastType``,
   ``createdAt``, ``edited``, ``id``, ``read``, ``text``, ``updatedAt``: no ``chat``,
   ``from`` or ``type`` (the event's name says them).
6. ``fields`` given to a payload are laid over ``eventData`` last, top-level keys only.
7. What a change fires is read from the record before and after it, as the REST API
   serialises them. A chat: ``chat.status_updated`` when the status moved, then
   ``chat.closed`` when it became closed; ``chat.snoozed`` when ``snoozedUntil`` was
   set or moved, ``chat.unsnoozed`` when it was cleared; ``chat.assigned`` when the
   assignee's id changed; ``chat.rated`` when a rating was set or changed. A
   customer: ``customer.email_updated`` (a null email counts), ``customer.tags_changed``
   (the set of tag names; none counts), ``customer.unsubscribed`` /
   ``customer.subscribed``, ``customer.blocked`` / ``customer.unblocked``. A new
   record fires ``chat.new`` or ``customer.new``, a removed customer
   ``customer.deleted``, a new message its own event (``message_event``).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any

import msgspec

from helpcrunch_async import webhooks

if TYPE_CHECKING:
    from collections.abc import Mapping

# The documented types come from the receiving side's own table: one list of them.
EVENT_TYPES: tuple[str, ...] = tuple(webhooks.EVENT_TYPES)
CHAT_EVENTS = frozenset(
    name for name, cls in webhooks.EVENT_TYPES.items() if issubclass(cls, webhooks.ChatEvent)
)
CUSTOMER_EVENTS = frozenset(
    name for name, cls in webhooks.EVENT_TYPES.items() if issubclass(cls, webhooks.CustomerEvent)
)

# A message's event by (its type, who sent it): the REST message's ``type`` and ``from``.
_MESSAGE_EVENT_OF: dict[tuple[object, object], str] = {
    ("message", "customer"): "message.chat.customer",
    ("email", "customer"): "message.email.customer",
    ("private", "agent"): "message.private",
    ("message", "agent"): "message.chat.agent",
    ("email", "agent"): "message.email.agent",
}
_MILLIS = 1000
# An odd multiplier spreads the milliseconds over [0, 999] for neighbouring seconds.
_MILLIS_SPREAD = 7919


def check_event(event: str) -> str:
    """Return ``event`` if it is one of the 20 documented types, else raise ValueError."""
    if event not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event!r}; the documented ones: {EVENT_TYPES}")
    return event


def message_event(message: Mapping[str, Any]) -> str | None:
    """Return the event a REST message fires (None for a tech message, which fires none)."""
    return _MESSAGE_EVENT_OF.get((message.get("type"), message.get("from")))


def millis(value: int | str | None) -> str | None:
    """Return a REST timestamp (seconds, int or digits) as the webhooks' ``"s.mmm"`` string."""
    if value is None:
        return None
    seconds = int(value)
    return f"{seconds}.{seconds * _MILLIS_SPREAD % _MILLIS:03d}"


def chat_data(chat: Mapping[str, Any]) -> dict[str, Any]:
    """Return a chat event's ``eventData`` for a REST chat (rule 3)."""
    return {
        "chat_id": chat["id"],
        "communicatedAgents": [agent["id"] for agent in chat["agents"]],
        "customer": chat["customer"],
        "assignee": chat["assignee"],
        "closedBy": chat["closedBy"],
        "status": chat["status"],
        "closedAt": millis(chat["closedAt"]),
        "rating": chat["rating"],
        "createdAt": millis(chat["createdAt"]),
        "snoozedUntil": millis(chat["snoozedUntil"]),
        "applicationId": chat["applicationId"],
        "department": chat["department"],
    }


def customer_data(customer: Mapping[str, Any]) -> dict[str, Any]:
    """Return a customer event's ``eventData`` for a REST customer (rule 4)."""
    custom = customer.get("customData") or {}
    if isinstance(custom, list):
        custom = {entry["property"]: entry["value"] for entry in custom}
    return {
        "id": customer["id"],
        "name": customer.get("name"),
        "userId": customer.get("userId"),
        "email": customer.get("email"),
        "phone": customer.get("phone"),
        "company": customer.get("company"),
        "unsubscribed": customer.get("unsubscribed", False),
        "blocked": customer.get("blocked", False),
        "tags": customer.get("tags", []),
        "customData": custom,
    }


def message_data(
    chat: Mapping[str, Any], message: Mapping[str, Any], *, agent_event: bool
) -> dict[str, Any]:
    """Return a message event's ``eventData`` (rule 5).

    ``agent_event`` says whether the event is an agent's (then ``agent`` is the
    message's agent, or the chat's assignee when the message names none).
    """
    agent = None
    if agent_event:
        agent = message.get("agent") or chat.get("assignee")
    return {
        "chat_id": chat["id"],
        "agent": agent,
        "customer": chat["customer"],
        "message": {
            "applicationId": chat["applicationId"],
            "broadcastType": message.get("broadcastType"),
            "createdAt": millis(message["createdAt"]),
            "edited": message.get("edited", False),
            "id": message["id"],
            "read": message.get("read", False),
            "text": message.get("text"),
            "updatedAt": millis(message.get("updatedAt") or message["createdAt"]),
        },
    }


def _ident(value: Mapping[str, Any] | None) -> Any:
    return None if value is None else value.get("id")


def chat_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Return the chat events that a change from ``before`` to ``after`` fires (rule 7)."""
    events: list[str] = []
    if before["status"] != after["status"]:
        events.append("chat.status_updated")
        if after["status"] == "closed":
            events.append("chat.closed")
    was, now = before.get("snoozedUntil"), after.get("snoozedUntil")
    if now is not None and now != was:
        events.append("chat.snoozed")
    elif was is not None and now is None:
        events.append("chat.unsnoozed")
    if _ident(before.get("assignee")) != _ident(after.get("assignee")):
        events.append("chat.assigned")
    if after.get("rating") is not None and after.get("rating") != before.get("rating"):
        events.append("chat.rated")
    return events


def customer_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Return the customer events that a change from ``before`` to ``after`` fires (rule 7)."""
    events: list[str] = []
    if before.get("email") != after.get("email"):
        events.append("customer.email_updated")
    names = [{tag.get("name") for tag in record.get("tags") or ()} for record in (before, after)]
    if names[0] != names[1]:
        events.append("customer.tags_changed")
    for key, on, off in (
        ("unsubscribed", "customer.unsubscribed", "customer.subscribed"),
        ("blocked", "customer.blocked", "customer.unblocked"),
    ):
        if bool(before.get(key)) != bool(after.get(key)):
            events.append(on if after.get(key) else off)
    return events


def event_id(seed: int, number: int) -> str:
    """Return the id of the emulator's ``number``-th event: a UUID drawn from ``seed``."""
    digest = hashlib.sha256(f"helpcrunch-emulator-webhook-{seed}-{number}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def envelope(
    event: str,
    data: Mapping[str, Any] | str,
    *,
    ident: str,
    created_at: int,
    attempts: int,
    last_attempt_at: int,
) -> bytes:
    """Return the body of one delivery attempt (rule 1): the bytes that are signed."""
    return msgspec.json.encode(
        {
            "event": event,
            "eventData": data,
            "attempts": attempts,
            "lastAttemptAt": last_attempt_at,
            "createdAt": created_at,
            "id": ident,
        }
    )


def with_fields(data: dict[str, Any], fields: Mapping[str, Any] | None) -> dict[str, Any]:
    """Lay ``fields`` over ``data`` (rule 6); return the result."""
    if fields:
        data = {**data, **fields}
    return data
