"""The ``agents`` resource: the team members, a page at a time or all of them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpcrunch_async._core.params import check_limit, check_offset
from helpcrunch_async._models.agents import Agent, decode_agents_page
from helpcrunch_async._resources.listing import Resource
from helpcrunch_async._shell.scan import Scan

if TYPE_CHECKING:
    from helpcrunch_async._models.agents import AgentsPage

__all__ = ["Agents"]


class Agents(Resource):
    """``client.agents``: ``GET /agents``."""

    async def list(self, *, offset: int = 0, limit: int = 100) -> AgentsPage:
        """Return one page of agents; ``total`` is None where the server sends no count."""
        params = {"offset": check_offset(offset), "limit": check_limit(limit)}
        return await self.page("GET", "/agents", params, decode_agents_page)

    def iter_all(
        self, *, page_size: int = 100, start: int = 0, concurrency: int | None = None
    ) -> Scan[Agent]:
        """Return a scan of every agent, in the server's order, each at most once.

        Where the server sends no count (old pages), it reads on until a short page.
        """
        return self.scan(
            "GET",
            "/agents",
            {},
            decode_agents_page,
            kind=Scan[Agent],
            page_size=page_size,
            start=start,
            concurrency=concurrency,
        )
