"""Message models: `from`, agents old and new, millisecond timestamps, `messages` or `data`."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async._models.agents import Agent
from helpcrunch_async._models.messages import Message, MessagesPage, decode_messages_page

# messages.md's constructed example (new style).
NEW_PAGE = {
    "data": [
        {
            "id": 55102,
            "agent": {"id": 501, "name": "Dana", "email": "dana@corp.test", "role": "agent"},
            "type": "message",
            "text": "We shipped it today.",
            "read": False,
            "createdAt": "1700000300",
            "updatedAt": "1700000300",
            "edited": False,
            "broadcastType": None,
            "chat": 7340012,
            "from": "agent",
        },
        {
            "id": 55101,
            "agent": None,
            "type": "message",
            "text": "Any update?",
            "read": True,
            "createdAt": "1700000100",
            "updatedAt": "1700000150",
            "edited": False,
            "broadcastType": None,
            "chat": 7340012,
            "from": "customer",
        },
    ],
    "total": 2,
}

# The old snapshot: the list under `messages`, no total, an agent of {id, name},
# timestamps with milliseconds, updatedAt null.
OLD_PAGE = {
    "messages": [
        {
            "id": 9,
            "agent": {"id": 3, "name": "Kim"},
            "type": "tech",
            "text": None,
            "read": True,
            "createdAt": "1594139170.913",
            "updatedAt": None,
            "edited": True,
            "broadcastType": "auto chat",
            "chat": 1568834,
            "from": "agent",
        }
    ]
}


def test_new_page() -> None:
    page = decode_messages_page(json.dumps(NEW_PAGE).encode())
    assert page.total == 2
    first, second = page.data
    assert first.from_ == "agent"
    assert first.agent == Agent(id=501, name="Dana", email="dana@corp.test", role="agent")
    assert (first.created_at, first.updated_at) == (1700000300, 1700000300)
    assert second.from_ == "customer"
    assert second.agent is None
    assert second.chat == 7340012


def test_old_page_with_messages_key_and_milliseconds() -> None:
    page = decode_messages_page(json.dumps(OLD_PAGE).encode())
    assert page.total is None
    (message,) = page.data
    assert message.created_at == 1594139170
    assert message.updated_at is None
    assert message.agent == Agent(id=3, name="Kim")
    assert message.text is None
    assert message.broadcast_type == "auto chat"


def test_encoding_uses_from_and_camel_case() -> None:
    page = decode_messages_page(json.dumps(OLD_PAGE).encode())
    wire = json.loads(msgspec.json.encode(page.data[0]))
    assert wire["from"] == "agent"
    assert "from_" not in wire
    assert wire["createdAt"] == 1594139170
    assert wire["broadcastType"] == "auto chat"
    assert set(NEW_PAGE["data"][0]) == set(wire)  # type: ignore[index]


@pytest.mark.parametrize("body", [b"{}", b'{"total": 2}', b'{"data": [{"text": "x"}]}', b"nope"])
def test_malformed_pages(body: bytes) -> None:
    with pytest.raises((msgspec.ValidationError, msgspec.DecodeError)):
        decode_messages_page(body)


_ts = st.none() | st.integers(min_value=0, max_value=4_000_000_000)
_text = st.none() | st.text(max_size=30)
_message = st.builds(
    Message,
    id=st.integers(1, 10**12),
    agent=st.none()
    | st.builds(Agent, id=st.integers(1, 10**9), name=_text, email=_text, role=_text),
    type=st.sampled_from(["message", "private", "tech", "email", "knowledgeBase"]),
    text=_text,
    read=st.booleans(),
    created_at=_ts,
    updated_at=_ts,
    edited=st.booleans(),
    broadcast_type=st.sampled_from([None, "trigger", "auto chat", "manual email"]),
    chat=st.integers(1, 10**9),
    from_=st.sampled_from(["agent", "customer"]),
)


@given(st.lists(_message, max_size=5), st.booleans(), st.sampled_from(["int", "string", "ms"]))
def test_round_trip_and_variants(messages: list[Message], old_key: bool, style: str) -> None:
    wire = [json.loads(msgspec.json.encode(m)) for m in messages]
    for item in wire:
        for key in ("createdAt", "updatedAt"):
            if item[key] is not None and style == "string":
                item[key] = str(item[key])
            elif item[key] is not None and style == "ms":
                item[key] = f"{item[key]}.913"
    body = {"messages": wire} if old_key else {"data": wire, "total": len(wire)}
    page = decode_messages_page(json.dumps(body).encode())
    assert page == MessagesPage(total=None if old_key else len(wire), data=messages)
