"""Chat models: every documented variant decodes to one shape and encodes back to the API's JSON."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async._models.agents import Agent
from helpcrunch_async._models.chats import (
    Chat,
    ChatCustomer,
    ChatDepartment,
    ChatsPage,
    decode_chat,
    decode_chats_page,
)
from helpcrunch_async._models.common import chat_status, seconds

# chats.md's constructed example (new style: numeric strings, `agents` a list).
NEW_CHAT = {
    "id": 7340012,
    "closedBy": None,
    "lastCustomerMessageAt": "1700000100",
    "status": "pending",
    "closedAt": None,
    "rating": None,
    "createdAt": "1700000000",
    "lastMessageAt": "1700000200",
    "readByAgent": False,
    "readByCustomer": True,
    "createdWith": "customer_message",
    "snoozedUntil": None,
    "lastMessageText": "Any update?",
    "lastMessageId": 99120,
    "applicationId": 12,
    "lastCommunicatedAgentId": 501,
    "agents": [{"id": 501, "name": "Dana", "email": "dana@corp.test", "role": "agent"}],
    "customer": {"id": 880001, "name": "Ann", "email": "ann@example.org", "userId": "crm-77"},
    "assignee": {"id": 501, "name": "Dana", "email": "dana@corp.test", "role": "agent"},
    "department": {"id": 31, "name": "Billing"},
}

# The old shape: integer timestamps, "on hold", `notes`, `agents` a single object,
# no readBy*/createdWith/applicationId, a snooze time with a fraction.
OLD_CHAT = {
    "id": 1568834,
    "closedBy": "customer",
    "lastCustomerMessageAt": 1593108596,
    "status": "on hold",
    "notes": "VIP",
    "closedAt": 1593109000,
    "rating": "great",
    "createdAt": 1593100000,
    "lastMessageAt": 1593108700,
    "snoozedUntil": "1603864800.000",
    "lastMessageText": None,
    "lastMessageId": None,
    "lastCommunicatedAgentId": None,
    "agents": {"id": 7, "name": "Bo", "email": "bo@corp.test", "role": "superviser"},
    "customer": {"id": 42, "name": None, "email": None, "userId": None},
    "assignee": None,
    "department": None,
}


def test_new_style_chat_decodes_to_int_timestamps_and_nested_types() -> None:
    chat = decode_chat(json.dumps(NEW_CHAT).encode())
    assert chat.id == 7340012
    assert (chat.created_at, chat.last_message_at, chat.last_customer_message_at) == (
        1700000000,
        1700000200,
        1700000100,
    )
    assert chat.closed_at is None
    assert chat.snoozed_until is None
    assert chat.read_by_agent is False
    assert chat.read_by_customer is True
    assert chat.created_with == "customer_message"
    assert chat.application_id == 12
    assert chat.agents == [Agent(id=501, name="Dana", email="dana@corp.test", role="agent")]
    assert chat.customer == ChatCustomer(
        id=880001, name="Ann", email="ann@example.org", user_id="crm-77"
    )
    assert chat.assignee == chat.agents[0]
    assert chat.department == ChatDepartment(id=31, name="Billing")
    assert chat.updated_at is None


def test_old_style_chat_normalises_status_agents_and_fractional_snooze() -> None:
    chat = decode_chat(json.dumps(OLD_CHAT).encode())
    assert chat.status == "onhold"
    assert chat.agents == [Agent(id=7, name="Bo", email="bo@corp.test", role="superviser")]
    assert chat.snoozed_until == 1603864800
    assert chat.notes == "VIP"
    assert chat.read_by_agent is None
    assert chat.application_id is None
    assert chat.assignee is None
    assert chat.department is None


@pytest.mark.parametrize(
    ("sent", "seen"),
    [
        ("on hold", "onhold"),
        ("on-hold", "onhold"),
        ("onhold", "onhold"),
        ("open", "opened"),
        ("opened", "opened"),
        ("no communication", "no communication"),
        ("empty", "empty"),
        ("closed", "closed"),
        ("new", "new"),
        ("some future status", "some future status"),
    ],
)
def test_status_spellings(sent: str, seen: str) -> None:
    assert decode_chat(json.dumps({"id": 1, "status": sent}).encode()).status == seen
    assert chat_status(sent) == seen


def test_chats_page_total_from_meta_or_top_level() -> None:
    item = json.dumps(NEW_CHAT)
    meta = decode_chats_page(f'{{"data": [{item}], "meta": {{"total": 435}}}}'.encode())
    top = decode_chats_page(f'{{"data": [{item}], "total": 435}}'.encode())
    assert meta == top
    assert meta.total == 435
    assert [c.id for c in meta.data] == [7340012]
    # Both present: the top-level total wins, since search is documented nowhere.
    both = decode_chats_page(b'{"data": [], "total": 3, "meta": {"total": 4}}')
    assert both.total == 3


@pytest.mark.parametrize(
    "body",
    [b'{"data": []}', b'{"data": [], "meta": {}}', b'{"total": 3}', b"[]", b'{"data": [{}]}'],
)
def test_malformed_chat_pages_are_validation_errors(body: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_chats_page(body)


def test_a_text_timestamp_names_the_field_and_the_path() -> None:
    body = json.dumps(
        {"data": [NEW_CHAT, {**NEW_CHAT, "closedAt": "18 Jun 2020"}], "meta": {"total": 2}}
    )
    with pytest.raises(msgspec.ValidationError, match=r"closedAt.*\$\.data\[1\]"):
        decode_chats_page(body.encode())


def test_encoding_writes_the_api_json_in_one_shape() -> None:
    chat = decode_chat(json.dumps(OLD_CHAT).encode())
    wire = json.loads(msgspec.json.encode(chat))
    assert wire["status"] == "onhold"
    assert wire["agents"] == [OLD_CHAT["agents"]]
    assert wire["snoozedUntil"] == 1603864800
    assert wire["lastCustomerMessageAt"] == 1593108596
    assert set(NEW_CHAT) <= set(wire)
    assert "closed_by" not in wire
    assert decode_chat(msgspec.json.encode(chat)) == chat


def test_unknown_fields_are_skipped() -> None:
    chat = decode_chat(b'{"id": 5, "someNewField": {"x": [1]}, "updatedAt": "1700000999"}')
    assert chat.id == 5
    assert chat.updated_at == 1700000999


# -- properties -----------------------------------------------------------------------

_ts = st.none() | st.integers(min_value=0, max_value=4_000_000_000)
_text = st.none() | st.text(max_size=20)
_agent = st.builds(Agent, id=st.integers(1, 10**9), name=_text, email=_text, role=_text)
_chat = st.builds(
    Chat,
    id=st.integers(1, 10**12),
    closed_by=st.sampled_from([None, "customer", "agent"]),
    last_customer_message_at=_ts,
    status=st.sampled_from(["new", "opened", "pending", "onhold", "closed", "empty"]),
    notes=_text,
    closed_at=_ts,
    rating=st.sampled_from([None, "great", "average", "poor"]),
    created_at=_ts,
    last_message_at=_ts,
    read_by_agent=st.none() | st.booleans(),
    read_by_customer=st.none() | st.booleans(),
    created_with=_text,
    snoozed_until=_ts,
    last_message_text=_text,
    last_message_id=st.none() | st.integers(1, 10**12),
    application_id=st.none() | st.integers(1, 10**6),
    last_communicated_agent_id=st.none() | st.integers(1, 10**9),
    agents=st.lists(_agent, max_size=3),
    customer=st.none()
    | st.builds(ChatCustomer, id=st.integers(1, 10**9), name=_text, email=_text, user_id=_text),
    assignee=st.none() | _agent,
    department=st.none() | st.builds(ChatDepartment, id=st.integers(1, 10**6), name=_text),
    updated_at=_ts,
)


@given(_chat)
def test_round_trip(chat: Chat) -> None:
    assert decode_chat(msgspec.json.encode(chat)) == chat


_TIMESTAMP_KEYS = (
    "createdAt",
    "lastMessageAt",
    "lastCustomerMessageAt",
    "closedAt",
    "snoozedUntil",
    "updatedAt",
)


@given(
    _chat,
    st.sampled_from(["int", "string", "fraction"]),
    st.integers(0, 999),
    st.sampled_from(["on hold", "on-hold", "onhold"]),
    st.booleans(),
)
def test_every_variant_decodes_to_the_same_chat(
    chat: Chat, style: str, millis: int, hold: str, agent_object: bool
) -> None:
    wire = json.loads(msgspec.json.encode(chat))
    for key in _TIMESTAMP_KEYS:
        value = wire[key]
        if value is not None and style == "string":
            wire[key] = str(value)
        elif value is not None and style == "fraction":
            wire[key] = f"{value}.{millis:03d}"
    if wire["status"] == "onhold":
        wire["status"] = hold
    if agent_object and len(wire["agents"]) == 1:
        wire["agents"] = wire["agents"][0]
    page = decode_chats_page(json.dumps({"data": [wire], "meta": {"total": 1}}).encode())
    assert page == ChatsPage(total=1, data=[chat])


@given(st.integers(0, 4_000_000_000), st.integers(0, 999))
def test_seconds_floors_every_spelling(value: int, millis: int) -> None:
    assert seconds(value, "x") == value
    assert seconds(str(value), "x") == value
    assert seconds(f"{value}.{millis:03d}", "x") == value
    assert seconds(float(value), "x") == value
    assert seconds(" ", "x") is None
    assert seconds(None, "x") is None
