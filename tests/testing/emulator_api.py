"""A tiny aiohttp client for the emulator's read-API tests (a helper, not a test module)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from helpcrunch_async.testing import Emulator

_TIMEOUT = aiohttp.ClientTimeout(total=10)


class Api:
    """Call the emulator's ``/v1`` routes with its key over loopback."""

    def __init__(self, session: aiohttp.ClientSession, emu: Emulator) -> None:
        """Use ``session`` for ``emu``."""
        self.session = session
        self.emu = emu

    async def raw(
        self, method: str, path: str, *, json: Any = None, key: str | None = "", **params: Any
    ) -> tuple[int, bytes]:
        """Send one request; key "" sends the emulator's key, None sends none."""
        headers = {} if key is None else {"Authorization": f"Bearer {key or self.emu.api_key}"}
        query = {name: str(value) for name, value in params.items()}
        async with self.session.request(
            method, self.emu.base_url + path, params=query, json=json, headers=headers
        ) as reply:
            return reply.status, await reply.read()

    async def get(self, path: str, **params: Any) -> Any:
        """GET and decode a 200 answer."""
        status, body = await self.raw("GET", path, **params)
        assert status == 200, body
        return msgspec.json.decode(body)

    async def post(self, path: str, json: Any) -> Any:
        """POST ``json`` and decode a 200 answer."""
        status, body = await self.raw("POST", path, json=json)
        assert status == 200, body
        return msgspec.json.decode(body)

    async def error(self, method: str, path: str, status: int, **kwargs: Any) -> list[Any]:
        """Send a request that must fail with ``status``; return its ``errors`` list."""
        got, body = await self.raw(method, path, **kwargs)
        assert got == status, body
        errors: list[Any] = msgspec.json.decode(body)["errors"]
        return errors


@contextlib.asynccontextmanager
async def api(emu: Emulator) -> AsyncIterator[Api]:
    """Open a session for ``emu``; close it on exit."""
    async with aiohttp.ClientSession(timeout=_TIMEOUT) as session:
        yield Api(session, emu)
