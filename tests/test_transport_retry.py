"""aiohttp's silent retry on a dropped keep-alive connection still passes the cap."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from wire_servers import CountingBudget

import helpcrunch_async as hc

if TYPE_CHECKING:
    import pytest

PAGE = b'{"total": 1, "data": [{"id": 7}]}'


async def test_a_request_aiohttp_repeats_takes_a_second_slot(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A server that answers the first request of each connection and drops the
    # connection when a second one arrives on it, as a server does when its
    # keep-alive timeout strikes just then. aiohttp repeats that request on a
    # new connection without telling its caller.
    requests_seen = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal requests_seen
        try:
            await reader.readuntil(b"\r\n\r\n")
            requests_seen += 1
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(PAGE), PAGE)
            )
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")
            requests_seen += 1
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    budget = CountingBudget()
    caplog.set_level(logging.INFO, logger="helpcrunch_async")
    try:
        async with hc.HelpCrunch(
            "k", base_url=f"http://127.0.0.1:{port}/v1", rate_budget=budget, backoff=0.0
        ) as client:
            first = await client.customers.list(limit=1)
            second = await client.customers.list(limit=1)
    finally:
        server.close()
        await server.wait_closed()
    assert first.total == second.total == 1
    # Three requests reached the server: the first, the second (dropped), and
    # aiohttp's repeat of it. Each took a slot of the cap.
    assert requests_seen == 3
    assert budget.granted == 3
    # The repeat was aiohttp's, not ours: the client logged no retry.
    assert "retrying" not in caplog.text
