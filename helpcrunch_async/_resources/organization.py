"""The ``organization`` resource: the account itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpcrunch_async._resources.endpoints import ORGANIZATION
from helpcrunch_async._resources.writing import Sender

if TYPE_CHECKING:
    from helpcrunch_async._models.writes import Organization
    from helpcrunch_async._shell.caller import Caller

__all__ = ["OrganizationResource"]


class OrganizationResource:
    """``client.organization``: ``GET /organization``."""

    def __init__(self, caller: Caller) -> None:
        """Read through ``caller``."""
        self._writes = Sender(caller)

    async def get(self) -> Organization:
        """Return the account: its id, domain, and whether the team is online and chat enabled."""
        return await self._writes.send(ORGANIZATION)
