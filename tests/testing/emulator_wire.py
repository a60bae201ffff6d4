"""A tiny aiohttp client for the emulator's tests (a helper module, not a conftest).

No conftest.py here on purpose: mypy checks ``tests`` as top-level modules, and a second
``conftest`` anywhere under ``tests`` would collide with it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from helpcrunch_async.testing import Emulator

# Every request in these tests is on loopback and answers in milliseconds.
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=5)


@dataclass
class Reply:
    """What came back: status, headers and the raw body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Decode the body."""
        return msgspec.json.decode(self.body)


class Wire:
    """GET the emulator's API (with its key by default) and call its admin routes."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        """Use ``session`` for every request."""
        self.session = session

    async def get(
        self, emu: Emulator, path: str = "/customers", *, key: str | None = "", **params: Any
    ) -> Reply:
        """GET ``base_url + path``; key "" sends the emulator's key, None sends no header."""
        headers = {}
        if key is not None:
            headers["Authorization"] = f"Bearer {key or emu.api_key}"
        query = {name: str(value) for name, value in params.items()}
        async with self.session.get(emu.base_url + path, params=query, headers=headers) as reply:
            return Reply(reply.status, dict(reply.headers), await reply.read())

    async def ids(self, emu: Emulator, **params: Any) -> list[int]:
        """GET one page and return its ids."""
        reply = await self.get(emu, **params)
        assert reply.status == 200, reply.body
        return [customer["id"] for customer in reply.json()["data"]]

    async def admin(self, emu: Emulator, route: str, json: Any = None) -> Reply:
        """GET ``/_emulator/<route>``, or POST ``json`` to it when given."""
        url = f"{emu.url}/_emulator/{route}"
        request = self.session.get(url) if json is None else self.session.post(url, json=json)
        async with request as reply:
            return Reply(reply.status, dict(reply.headers), await reply.read())


@contextlib.asynccontextmanager
async def wire() -> AsyncIterator[Wire]:
    """Open a session with a short timeout; close it on exit."""
    async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session:
        yield Wire(session)
