"""Every payload the emulator can build is one the receiving side decodes to the right event.

Hypothesis draws REST records in every variant the emulator serves (timestamps as
integers or digit strings, custom data as a list or a map, null assignees and
departments, eventData as an object or a JSON string); the emulator shapes them into
deliveries and ``webhooks.decode`` must give back the type, ids and times.
"""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async import webhooks
from helpcrunch_async.testing._webhook_events import (
    CHAT_EVENTS,
    CUSTOMER_EVENTS,
    EVENT_TYPES,
    chat_data,
    customer_data,
    envelope,
    message_data,
)

ids = st.integers(1, 2**53)
times = st.integers(0, 2**33)
texts = st.text(max_size=20)
maybe_text = st.none() | texts
stamp = times.flatmap(lambda t: st.sampled_from([t, str(t)]))
agents = st.fixed_dictionaries(
    {"id": ids, "name": texts, "email": texts, "role": st.sampled_from(["agent", "admin"])}
)
chat_customers = st.fixed_dictionaries(
    {"id": ids, "name": maybe_text, "email": maybe_text, "userId": maybe_text}
)
chats = st.fixed_dictionaries(
    {
        "id": ids,
        "agents": st.lists(agents, max_size=3),
        "customer": chat_customers,
        "assignee": st.none() | agents,
        "closedBy": st.sampled_from([None, "agent", "customer"]),
        "status": st.sampled_from(["new", "opened", "pending", "on hold", "closed", "empty"]),
        "closedAt": st.none() | stamp,
        "rating": st.sampled_from([None, "poor", "average", "great"]),
        "createdAt": stamp,
        "snoozedUntil": st.none() | stamp,
        "applicationId": ids,
        "department": st.none() | st.fixed_dictionaries({"id": ids, "name": texts}),
    }
)
values = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | texts
customs = st.lists(st.fixed_dictionaries({"property": texts, "value": values}), max_size=3)
customers = st.fixed_dictionaries(
    {
        "id": ids,
        "name": maybe_text,
        "email": maybe_text,
        "userId": maybe_text,
        "phone": maybe_text,
        "company": maybe_text,
        "unsubscribed": st.booleans(),
        "blocked": st.booleans(),
        "tags": st.lists(st.fixed_dictionaries({"name": texts, "color": texts}), max_size=3),
        "customData": customs | st.dictionaries(texts, values, max_size=3),
    }
)
messages = st.fixed_dictionaries(
    {
        "id": ids,
        "agent": st.none() | agents,
        "type": st.sampled_from(["message", "private", "email"]),
        "from": st.sampled_from(["customer", "agent"]),
        "text": maybe_text,
        "read": st.booleans(),
        "createdAt": stamp,
        "updatedAt": st.none() | stamp,
        "edited": st.booleans(),
        "broadcastType": st.sampled_from([None, "auto chat"]),
    }
)


def delivered(event: str, data: dict[str, Any], *, as_string: bool) -> webhooks.Event:
    body = envelope(
        event,
        msgspec.json.encode(data).decode() if as_string else data,
        ident="2f6c3a9e-0d1b-4c77-9a51-7b3c2e0f9d10",
        created_at=1_700_000_000,
        attempts=2,
        last_attempt_at=1_700_000_300,
    )
    decoded = webhooks.decode(body)
    assert isinstance(decoded, webhooks.EVENT_TYPES[event])
    assert (decoded.attempts, decoded.last_attempt_at) == (2, 1_700_000_300)
    return decoded


@given(st.sampled_from(sorted(CHAT_EVENTS)), chats, st.booleans())
def test_chat_payloads_decode(event: str, chat: dict[str, Any], as_string: bool) -> None:
    decoded = delivered(event, chat_data(chat), as_string=as_string)
    assert isinstance(decoded, webhooks.ChatEvent)
    assert decoded.chat_id == chat["id"]
    assert decoded.customer_id == chat["customer"]["id"]
    assert decoded.chat.communicated_agents == [agent["id"] for agent in chat["agents"]]
    assert decoded.chat.created_at == int(chat["createdAt"])
    closed = chat["closedAt"]
    assert decoded.chat.closed_at == (None if closed is None else int(closed))


@given(st.sampled_from(sorted(CUSTOMER_EVENTS)), customers, st.booleans())
def test_customer_payloads_decode(event: str, customer: dict[str, Any], as_string: bool) -> None:
    decoded = delivered(event, customer_data(customer), as_string=as_string)
    assert isinstance(decoded, webhooks.CustomerEvent)
    assert decoded.customer_id == customer["id"]
    assert decoded.customer.email == customer["email"]
    assert [tag.name for tag in decoded.customer.tags] == [t["name"] for t in customer["tags"]]
    custom = customer["customData"]
    wanted = custom if isinstance(custom, dict) else {i["property"]: i["value"] for i in custom}
    assert {item.property: item.value for item in decoded.customer.custom_data} == wanted


message_events = sorted(set(EVENT_TYPES) - CHAT_EVENTS - CUSTOMER_EVENTS)


@given(st.sampled_from(message_events), chats, messages, st.booleans())
def test_message_payloads_decode(
    event: str, chat: dict[str, Any], message: dict[str, Any], as_string: bool
) -> None:
    agent_event = event in {"message.private", "message.chat.agent", "message.email.agent"}
    data = message_data(chat, message, agent_event=agent_event)
    decoded = delivered(event, data, as_string=as_string)
    assert isinstance(decoded, webhooks.MessageEvent)
    assert decoded.chat_id == chat["id"]
    assert decoded.message.id == message["id"]
    assert decoded.message.created_at == int(message["createdAt"])
    assert decoded.message.text == message["text"]
    if not agent_event:
        assert decoded.agent is None
