"""Serve a receiver on loopback for real (uvicorn for the ASGI app, aiohttp.web) and post to it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from typing import TYPE_CHECKING, Any

import aiohttp
import uvicorn
from aiohttp import web

from helpcrunch_async import webhooks

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

SECRET = "receiver-test-secret"  # noqa: S105 -- a test key
NOW = 1_700_000_400.0
KINDS = ["uvicorn", "aiohttp"]


def event_body(
    event_id: str | None = None, *, name: str = "customer.tags_changed", at: float = NOW
) -> bytes:
    """A delivery's body in the documented shape."""
    return json.dumps(
        {
            "event": name,
            "eventData": {"id": 880001, "name": "Ann", "customData": {"plan": "pro"}},
            "attempts": 0,
            "lastAttemptAt": int(at),
            "createdAt": int(at),
            "id": event_id or str(uuid.uuid4()),
        }
    ).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-HelpCrunch-Signature": webhooks.sign(body, secret),
        "Content-Type": "application/json",
    }


def _socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def serve(kind: str, handle: Callable[..., Any], **options: Any) -> AsyncIterator[str]:
    """Serve a receiver of ``kind`` for ``handle`` on loopback; yield its URL."""
    options.setdefault("secret", SECRET)
    options.setdefault("clock", lambda: NOW)
    sock = _socket()
    port = sock.getsockname()[1]
    if kind == "uvicorn":
        app = webhooks.asgi_app(handle, **options)
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            async with asyncio.timeout(10):
                while not server.started:  # noqa: ASYNC110 -- uvicorn offers no event
                    await asyncio.sleep(0.01)
            yield f"http://127.0.0.1:{port}/"
        finally:
            server.should_exit = True
            await task
            sock.close()
        return
    handler = webhooks.aiohttp_handler(handle, **options)
    web_app = web.Application()
    web_app.router.add_route("*", "/", handler)
    web_app.cleanup_ctx.append(handler.lifespan)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()
        sock.close()


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int, bytes]:
    async with session.post(url, data=body, headers=headers) as answer:
        return answer.status, await answer.read()


async def raw_request(port: int, head: bytes, body_parts: list[bytes]) -> bytes:
    """Send ``head`` and the parts on a raw socket, never finishing the body; return the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        for part in body_parts:
            writer.write(part)
        await writer.drain()
        async with asyncio.timeout(10):
            return await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
