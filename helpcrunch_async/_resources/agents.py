"""The ``agents`` resource: the team members, a page at a time or all of them."""

from __future__ import annotations

from helpcrunch_async._models.agents import Agent, AgentsPage
from helpcrunch_async._resources.endpoints import AGENTS
from helpcrunch_async._resources.listing import Roster

__all__ = ["Agents"]


class Agents(Roster[AgentsPage, Agent]):
    """``client.agents``: ``GET /agents``; ``list`` one page, ``iter_all`` every agent."""

    _endpoint = AGENTS
