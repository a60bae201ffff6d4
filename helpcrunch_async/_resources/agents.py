"""The ``agents`` resource: the team members, a page at a time or all of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpcrunch_async._core.params import check_limit, check_offset
from helpcrunch_async._models.agents import decode_agents_page
from helpcrunch_async._resources.listing import Resource

if TYPE_CHECKING:
    from helpcrunch_async._models.agents import AgentsPage

__all__ = ["Agents"]


class Agents(Resource):
    """``client.agents``: ``GET /agents``."""

    async def list(self, *, offset: int = 0, limit: int = 100) -> AgentsPage:
        """Return one page of agents; ``total`` is None where the server sends no count."""
        params = {"offset": check_offset(offset), "limit": check_limit(limit)}
        return await self.page("GET", "/agents", params, decode_agents_page)
