"""Every documented event decodes from the reference's shapes and quirks; hostile bodies fail."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async import CustomDataItem, webhooks

SECRET = "events-secret"  # noqa: S105 -- a test key
NOW = 1700000400

CHAT_EVENTS = [
    "chat.new",
    "chat.status_updated",
    "chat.assigned",
    "chat.snoozed",
    "chat.unsnoozed",
    "chat.closed",
    "chat.rated",
]
CUSTOMER_EVENTS = [
    "customer.new",
    "customer.email_updated",
    "customer.tags_changed",
    "customer.unsubscribed",
    "customer.subscribed",
    "customer.blocked",
    "customer.unblocked",
    "customer.deleted",
]
MESSAGE_EVENTS = [
    "message.chat.customer",
    "message.email.customer",
    "message.private",
    "message.chat.agent",
    "message.email.agent",
]

# The reference's constructed examples (shared/reference/api/webhooks.md).
CHAT_DATA: dict[str, Any] = {
    "chat_id": 7340012,
    "communicatedAgents": [501],
    "customer": {"id": 880001, "name": "Ann", "email": "ann@example.org", "userId": "crm-77"},
    "assignee": {"id": 501, "name": "Dana", "email": "dana@corp.test", "role": "agent"},
    "closedBy": None,
    "status": "opened",
    "closedAt": None,
    "rating": None,
    "createdAt": "1700000000.125",
    "snoozedUntil": None,
    "applicationId": 12,
    "department": {"id": 31, "name": "Billing"},
}
CUSTOMER_DATA: dict[str, Any] = {
    "id": 880001,
    "name": "Ann",
    "userId": "crm-77",
    "email": "ann@example.org",
    "unsubscribed": False,
    "customData": {"plan": "pro", "seats": 3},
}
MESSAGE_DATA: dict[str, Any] = {
    "chat_id": 7340012,
    "agent": None,
    "customer": {"id": 880001, "name": "Ann", "email": "ann@example.org", "userId": "crm-77"},
    "message": {
        "applicationId": 12,
        "broadcastType": None,
        "createdAt": "1700000100.500",
        "edited": False,
        "id": 55101,
        "read": False,
        "text": "Any update?",
        "updatedAt": "1700000100.500",
    },
}


def envelope(event: str, data: Any, **extra: Any) -> bytes:
    body = {
        "event": event,
        "eventData": data,
        "attempts": 0,
        "lastAttemptAt": NOW,
        "createdAt": NOW,
        "id": "2f6c3a9e-0d1b-4c77-9a51-7b3c2e0f9d10",
    }
    body.update(extra)
    return json.dumps(body).encode()


def parse(body: bytes) -> webhooks.Event:
    return webhooks.parse(
        body, {"X-HelpCrunch-Signature": webhooks.sign(body, SECRET)}, SECRET, now=NOW
    )


def test_there_are_twenty_documented_types_each_with_its_struct() -> None:
    assert list(webhooks.EVENT_TYPES) == CHAT_EVENTS + CUSTOMER_EVENTS + MESSAGE_EVENTS
    assert len({cls.__name__ for cls in webhooks.EVENT_TYPES.values()}) == 20


@pytest.mark.parametrize("name", CHAT_EVENTS)
def test_chat_events(name: str) -> None:
    event = parse(envelope(name, CHAT_DATA))
    assert type(event) is webhooks.EVENT_TYPES[name]
    assert isinstance(event, webhooks.ChatEvent)
    assert event.name == name
    assert (event.id, event.created_at, event.last_attempt_at, event.attempts) == (
        "2f6c3a9e-0d1b-4c77-9a51-7b3c2e0f9d10",
        NOW,
        NOW,
        0,
    )
    assert (event.chat_id, event.customer_id) == (7340012, 880001)
    assert event.chat.communicated_agents == [501]
    assert event.chat.created_at == 1700000000
    assert event.chat.assignee is not None
    assert event.chat.assignee.name == "Dana"
    assert event.chat.department is not None
    assert event.chat.department.id == 31
    assert msgspec.json.decode(msgspec.json.encode(event))["event"] == name


@pytest.mark.parametrize("name", CUSTOMER_EVENTS)
def test_customer_events(name: str) -> None:
    event = parse(envelope(name, CUSTOMER_DATA))
    assert type(event) is webhooks.EVENT_TYPES[name]
    assert isinstance(event, webhooks.CustomerEvent)
    assert event.customer_id == 880001
    assert event.customer.user_id == "crm-77"
    assert event.customer.custom_data == [CustomDataItem("plan", "pro"), CustomDataItem("seats", 3)]


@pytest.mark.parametrize("name", MESSAGE_EVENTS)
def test_message_events(name: str) -> None:
    event = parse(envelope(name, MESSAGE_DATA))
    assert type(event) is webhooks.EVENT_TYPES[name]
    assert isinstance(event, webhooks.MessageEvent)
    assert (event.chat_id, event.customer_id) == (7340012, 880001)
    assert event.message.text == "Any update?"
    assert event.message.created_at == 1700000100
    assert event.message.chat == 7340012  # filled in from the event
    assert event.agent is None


def test_pattern_matching_as_the_readme_writes_it() -> None:
    seen: list[tuple[object, ...]] = []
    for body in (
        envelope("customer.tags_changed", CUSTOMER_DATA),
        envelope("message.chat.customer", MESSAGE_DATA),
        envelope("conversation.teleported", {"x": 1}),
    ):
        match parse(body):
            case webhooks.CustomerTagsChanged(customer_id=cid):
                seen.append(("tags", cid))
            case webhooks.MessageChatCustomer(chat_id=chat, message=m):
                seen.append(("message", chat, m.text))
            case webhooks.UnknownEvent(name=name):
                seen.append(("unknown", name))
    assert seen == [
        ("tags", 880001),
        ("message", 7340012, "Any update?"),
        ("unknown", "conversation.teleported"),
    ]


def test_unknown_event_is_kept_with_its_data() -> None:
    event = parse(envelope("chat.teleported", {"chat_id": 5, "where": "moon"}))
    assert isinstance(event, webhooks.UnknownEvent)
    assert event.name == "chat.teleported"
    assert event.data == {"chat_id": 5, "where": "moon"}
    assert event.id == "2f6c3a9e-0d1b-4c77-9a51-7b3c2e0f9d10"


# -- the quirks --------------------------------------------------------------------


def test_event_data_as_a_json_string() -> None:
    event = parse(envelope("message.chat.customer", json.dumps(MESSAGE_DATA)))
    assert isinstance(event, webhooks.MessageChatCustomer)
    assert event.message.id == 55101


def test_custom_data_as_a_list_of_property_value() -> None:
    data = dict(CUSTOMER_DATA, customData=[{"property": "plan", "value": "pro"}])
    event = parse(envelope("customer.new", data))
    assert isinstance(event, webhooks.CustomerNew)
    assert event.customer.custom_data == [CustomDataItem("plan", "pro")]


def test_communicated_agents_as_objects_become_ids() -> None:
    data = dict(CHAT_DATA, communicatedAgents=[{"id": 501, "name": "Dana"}, 502])
    event = parse(envelope("chat.closed", data))
    assert isinstance(event, webhooks.ChatClosed)
    assert event.chat.communicated_agents == [501, 502]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"chat_id": 1, "chatId": 2, "id": 3}, 1),
        ({"chatId": 2, "id": 3}, 2),
        ({"id": 3}, 3),
        ({}, None),
    ],
)
def test_the_chat_id_in_each_spelling(data: dict[str, Any], expected: int | None) -> None:
    event = parse(envelope("chat.new", data))
    assert isinstance(event, webhooks.ChatNew)
    assert event.chat_id == expected


def test_timestamps_in_every_variant_and_statuses_normalised() -> None:
    data = dict(
        CHAT_DATA,
        createdAt=1700000000,
        closedAt="1700000001",
        snoozedUntil="1700009999.000",
        status="on hold",
    )
    event = parse(
        envelope("chat.snoozed", data, createdAt="1700000400", lastAttemptAt=1700000400.9)
    )
    assert isinstance(event, webhooks.ChatSnoozed)
    assert (event.chat.created_at, event.chat.closed_at, event.chat.snoozed_until) == (
        1700000000,
        1700000001,
        1700009999,
    )
    assert event.chat.status == "onhold"
    assert (event.created_at, event.last_attempt_at) == (NOW, NOW)


def test_message_event_chat_id_from_the_message_and_agent_object() -> None:
    data = dict(MESSAGE_DATA, agent={"id": 501, "name": "Dana"})
    del data["chat_id"]
    data["message"] = dict(MESSAGE_DATA["message"], chat=99)
    event = parse(envelope("message.chat.agent", data))
    assert isinstance(event, webhooks.MessageChatAgent)
    assert event.chat_id == 99
    assert event.agent is not None
    assert event.agent.id == 501


# -- hostile bodies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json", "not JSON"),
        (b"", "not JSON"),
        (b"[]", "documented shape"),
        (b'{"event":"chat.new"}', "id"),
        (envelope("chat.new", "{not json"), "not JSON"),
        (envelope("chat.new", 5), "eventData"),
        (envelope("customer.new", {"id": "x"}), r"\$\.eventData\.id"),
        (envelope("customer.new", {"id": 10**30}), "eventData"),
        (
            envelope("chat.new", {"customer": "a string where an object belongs"}),
            "eventData.customer",
        ),
        (envelope("message.chat.customer", {"message": {"id": 1}}), "chat_id"),
        (envelope("message.chat.customer", dict(MESSAGE_DATA, message="hi")), "eventData.message"),
        (envelope("chat.new", CHAT_DATA, lastAttemptAt="yesterday"), "lastAttemptAt"),
        (envelope("chat.new", dict(CHAT_DATA, closedAt="yesterday")), "closedAt"),
        (envelope("chat.new", CHAT_DATA, id="x" * 500), "id"),
        (envelope("chat.new", CHAT_DATA, attempts=-1), "attempts"),
        (envelope("x.y", {"n": 1}).replace(b'"n": 1', b'"n": ' + b"9" * 5000), "eventData"),
        (
            b'{"event":"x","id":"a","eventData":{"a":' + b"[" * 50_000 + b"]" * 50_000 + b"}}",
            "deeply",
        ),
        (
            b'{"event":"chat.new","id":"a","eventData":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
            "deeply",
        ),
    ],
    ids=[
        "not json",
        "empty",
        "array",
        "no id",
        "eventData string not json",
        "eventData number",
        "string id",
        "huge id",
        "string for object",
        "message without chat id",
        "message is a string",
        "bad timestamp",
        "bad chat timestamp",
        "huge event id",
        "negative attempts",
        "huge number in unknown",
        "deep nesting in unknown",
        "deep nesting in known",
    ],
)
def test_hostile_bodies_are_payload_errors(body: bytes, words: str) -> None:
    with pytest.raises(webhooks.WebhookPayloadError, match=words) as info:
        webhooks.decode(body)
    assert body[:60].decode(errors="replace") not in str(info.value) or len(body) < 20


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        ),
        max_leaves=30,
    ),
    st.sampled_from([*CHAT_EVENTS, *CUSTOMER_EVENTS, *MESSAGE_EVENTS, "other.event"]),
)
def test_any_json_for_event_data_is_an_event_or_a_payload_error(data: Any, name: str) -> None:
    try:
        body = envelope(name, data)
    except ValueError:  # NaN and infinities are not JSON
        return
    try:
        event = webhooks.decode(body)
    except webhooks.WebhookPayloadError:
        return
    assert isinstance(event, webhooks.Event)
