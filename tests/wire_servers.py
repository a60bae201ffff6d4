"""Tiny loopback servers and a counting budget for the request-path tests."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from aiohttp import web

import helpcrunch_async as hc

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class CountingBudget(hc.LocalBudget):
    """A real budget that also counts the slots it grants."""

    def __init__(self) -> None:
        super().__init__(100, 60.0)
        self.granted = 0

    async def acquire(self) -> float:
        stamp = await super().acquire()
        self.granted += 1
        return stamp


@contextlib.asynccontextmanager
async def serving(handler: Handler, path: str = "/v1/customers") -> AsyncIterator[str]:
    """Serve ``handler`` at ``path`` on 127.0.0.1; yield the base URL (``.../v1``)."""
    app = web.Application()
    app.router.add_get(path, handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    finally:
        await runner.cleanup()
