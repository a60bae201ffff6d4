"""The ``applications`` resource: the widgets and messengers chats are opened in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpcrunch_async._resources.endpoints import APPLICATIONS
from helpcrunch_async._resources.writing import Sender

if TYPE_CHECKING:
    from helpcrunch_async._models.writes import Application
    from helpcrunch_async._shell.caller import Caller

__all__ = ["Applications"]


class Applications:
    """``client.applications``: ``GET /applications``."""

    def __init__(self, caller: Caller) -> None:
        """Read through ``caller``."""
        self._writes = Sender(caller)

    async def list(self) -> list[Application]:
        """Return every application (a widget or a messenger): ``chats.create`` needs an id."""
        return await self._writes.send(APPLICATIONS)
