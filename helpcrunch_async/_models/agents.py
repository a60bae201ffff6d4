"""The wire types of the team: agents, departments and their pages.

Attributes are snake_case over the API's camelCase JSON. ``GET /agents`` and
``GET /departments`` answer ``{"data": [...], "meta": {"total": N}}`` in the new
pages and ``{"data": [...]}`` with no count in the old ones; both decode to a
page whose ``total`` is ``None`` when the server sent none (see
`common.page_parts`).

``Agent.role`` keeps the API's spelling: ``agentChatOnly``, ``agent``,
``superviser`` (so spelled by the API), ``admin``, or a custom role's name.
Old message pages give a message's agent as ``{id, name}`` only; the other
fields are then ``None``.
"""

from __future__ import annotations

import msgspec

from helpcrunch_async._models.common import WirePage, page_parts

__all__ = [
    "Agent",
    "AgentsPage",
    "Department",
    "DepartmentsPage",
    "decode_agents_page",
    "decode_departments_page",
]


# Scalars only, so never part of a reference cycle: untracked by the cycle
# collector (``gc=False``), as `Customer` is (see its docstring).
class Agent(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    """A team member: in ``GET /agents``, in a department, or on a chat or message."""

    id: int
    name: str | None = None
    email: str | None = None
    role: str | None = None


class Department(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    """A department and the agents in it."""

    id: int
    name: str | None = None
    agents: list[Agent] = msgspec.field(default_factory=list)


class AgentsPage(msgspec.Struct, rename="camel"):
    """One page of ``GET /agents``: ``total`` (``None`` if the server sent none) and agents."""

    total: int | None
    data: list[Agent]


class DepartmentsPage(msgspec.Struct, rename="camel"):
    """One page of ``GET /departments``: ``total`` (``None`` if none was sent) and departments."""

    total: int | None
    data: list[Department]


_AGENTS = msgspec.json.Decoder(WirePage[Agent])
_DEPARTMENTS = msgspec.json.Decoder(WirePage[Department])


def decode_agents_page(body: bytes) -> AgentsPage:
    """Decode a ``GET /agents`` body; raises msgspec's errors for a malformed one."""
    total, data = page_parts(_AGENTS.decode(body))
    return AgentsPage(total=total, data=data)


def decode_departments_page(body: bytes) -> DepartmentsPage:
    """Decode a ``GET /departments`` body; raises msgspec's errors for a malformed one."""
    total, data = page_parts(_DEPARTMENTS.decode(body))
    return DepartmentsPage(total=total, data=data)
