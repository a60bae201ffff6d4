"""Agent and department models: pages with `meta.total` (new docs) or without any count (old)."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async._models.agents import (
    Agent,
    AgentsPage,
    Department,
    DepartmentsPage,
    decode_agents_page,
    decode_departments_page,
)

AGENTS = [
    {"id": 501, "name": "Dana", "email": "dana@corp.test", "role": "agent"},
    {"id": 502, "name": "Lee", "email": "lee@corp.test", "role": "superviser"},
]


def test_agents_new_and_old_pages() -> None:
    new = decode_agents_page(json.dumps({"data": AGENTS, "meta": {"total": 2}}).encode())
    old = decode_agents_page(json.dumps({"data": AGENTS}).encode())
    assert new.total == 2
    assert old.total is None
    assert new.data == old.data
    assert new.data[1] == Agent(id=502, name="Lee", email="lee@corp.test", role="superviser")


def test_departments_new_and_old_pages() -> None:
    item = {"id": 31, "name": "Billing", "agents": AGENTS}
    new = decode_departments_page(json.dumps({"data": [item], "meta": {"total": 0}}).encode())
    old = decode_departments_page(json.dumps({"data": [{"id": 32, "name": "Sales"}]}).encode())
    assert new.total == 0  # the docs' example says 0 beside a full list: kept as sent
    assert new.data[0].agents[0].id == 501
    assert old.total is None
    assert old.data == [Department(id=32, name="Sales", agents=[])]


@pytest.mark.parametrize("body", [b"{}", b'{"meta": {"total": 1}}', b'{"data": [{"name": "x"}]}'])
def test_malformed(body: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_agents_page(body)
    with pytest.raises(msgspec.ValidationError):
        decode_departments_page(body)


_text = st.none() | st.text(max_size=20)
_agent = st.builds(Agent, id=st.integers(1, 10**9), name=_text, email=_text, role=_text)


@given(st.lists(_agent, max_size=4), st.none() | st.integers(0, 10**6))
def test_agents_round_trip(agents: list[Agent], total: int | None) -> None:
    body: dict[str, object] = {"data": [json.loads(msgspec.json.encode(a)) for a in agents]}
    if total is not None:
        body["meta"] = {"total": total}
    assert decode_agents_page(json.dumps(body).encode()) == AgentsPage(total=total, data=agents)


@given(
    st.lists(
        st.builds(
            Department, id=st.integers(1, 10**6), name=_text, agents=st.lists(_agent, max_size=3)
        ),
        max_size=3,
    )
)
def test_departments_round_trip(departments: list[Department]) -> None:
    body = b'{"data": %s}' % msgspec.json.encode(departments)
    assert decode_departments_page(body) == DepartmentsPage(total=None, data=departments)
