"""The account's team: agents and departments, small enough to build eagerly.

Agent ``i`` and department ``d`` are pure functions of ``(seed, i)`` and ``(seed, d)``.
Ids start at 501 (agents) and 31 (departments) with small gaps. Every department holds
a few agents (an agent may sit in several departments, or none); the objects are encoded
once, exactly as ``GET /agents`` and ``GET /departments`` send them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import msgspec

FIRST_AGENT_ID = 501
FIRST_DEPARTMENT_ID = 31
# The agent model's roles, with the API's own spelling of "superviser".
ROLES = ("agentChatOnly", "agent", "agent", "agent", "superviser", "admin")
_AGENT_NAMES = (
    "Dana",
    "Lee",
    "Zoë Ødegaard",
    "Mykola",
    "Aiko 田中",
    "O'Neil",
    "Grace, support",
    "Björn",
    "Lucía",
    "Sam 🎧",
)
_DEPARTMENT_NAMES = ("Billing", "Support", "Sales", "Onboarding", "Tier 2", "Ventes & Co")


class Agent(msgspec.Struct, frozen=True):
    """An agent as the agent model documents it."""

    id: int
    name: str
    email: str
    role: str


class Department(msgspec.Struct, frozen=True):
    """A department with the agents in it."""

    id: int
    name: str
    agents: list[Agent]


@dataclass(frozen=True)
class Team:
    """The agents and departments of one account."""

    agents: tuple[Agent, ...]
    departments: tuple[Department, ...]
    agent_json: tuple[bytes, ...]
    department_json: tuple[bytes, ...]
    # members[d]: the agent indices of department d.
    members: tuple[tuple[int, ...], ...]


def build_team(agents: int, departments: int, seed: int) -> Team:
    """Draw ``agents`` agents and ``departments`` departments for ``seed``."""
    if agents < 0 or departments < 0:
        raise ValueError("agents and departments must be >= 0")
    rng = random.Random(f"helpcrunch-emulator-team-{seed}")
    people: list[Agent] = []
    next_id = FIRST_AGENT_ID
    for i in range(agents):
        name = _AGENT_NAMES[i % len(_AGENT_NAMES)]
        if i >= len(_AGENT_NAMES):
            name = f"{name} {i // len(_AGENT_NAMES) + 1}"
        handle = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum()) or "agent"
        people.append(Agent(next_id, name, f"{handle}.{i}@corp.test", rng.choice(ROLES)))
        next_id += 1 + rng.randrange(3)
    members: list[tuple[int, ...]] = []
    groups: list[Department] = []
    next_id = FIRST_DEPARTMENT_ID
    for d in range(departments):
        size = rng.randint(0, min(agents, 4)) if agents else 0
        chosen = tuple(sorted(rng.sample(range(agents), size)))
        members.append(chosen)
        name = _DEPARTMENT_NAMES[d % len(_DEPARTMENT_NAMES)]
        if d >= len(_DEPARTMENT_NAMES):
            name = f"{name} {d // len(_DEPARTMENT_NAMES) + 1}"
        groups.append(Department(next_id, name, [people[a] for a in chosen]))
        next_id += 1 + rng.randrange(4)
    return Team(
        agents=tuple(people),
        departments=tuple(groups),
        agent_json=tuple(msgspec.json.encode(a) for a in people),
        department_json=tuple(msgspec.json.encode(d) for d in groups),
        members=tuple(members),
    )
