"""Hostile bodies on every endpoint are decode errors with their path, never an escape.

A tiny loopback server serves one body at every path: nested past msgspec's
depth, a total no listing can have, ids and timestamps past 64 bits.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from scan_reads import drain

import helpcrunch_async as hc

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

KEY = "test-key"
DEEP = 10_000


@contextlib.asynccontextmanager
async def body_server(body: bytes, status: int = 200) -> AsyncIterator[tuple[str, list[str]]]:
    """Serve ``body`` with ``status`` at every path; yield the base URL and the paths asked."""
    asked: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        asked.append(request.path)
        return web.Response(status=status, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1", asked
    finally:
        await runner.cleanup()


CALLS: dict[str, Callable[[hc.HelpCrunch], Awaitable[Any]]] = {
    "customers": lambda c: c.customers.list(),
    "customer": lambda c: c.customers.get(1),
    "customers.search": lambda c: c.customers.search([hc.Filter("customers.id", ">=", 1)]),
    "chats": lambda c: c.chats.list(),
    "chat": lambda c: c.chats.get(1),
    "chats.search": lambda c: c.chats.search([hc.Filter("chats.createdAt", ">=", 1)]),
    "messages": lambda c: c.chats.messages(1),
    "agents": lambda c: c.agents.list(),
    "departments": lambda c: c.departments.list(),
}


def nested(depth: int) -> bytes:
    inner = b"[" * depth + b"]" * depth
    item = b'{"id": 1, "x": ' + inner + b"}"
    return b'{"total": 1, "meta": {"total": 1}, "data": [' + item + b"]}"


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
async def test_a_deeply_nested_body_is_a_decode_error_not_a_recursion_error(
    call: Callable[[hc.HelpCrunch], Awaitable[Any]],
) -> None:
    # msgspec raises RecursionError, not a DecodeError, past its depth: it
    # escaped the caller and the error tree, on every endpoint.
    async with (
        body_server(nested(DEEP)) as (url, _),
        hc.HelpCrunch(KEY, base_url=url, max_retries=0) as client,
    ):
        with pytest.raises(hc.DecodeError, match="nested too deeply"):
            await call(client)


async def test_a_deeply_nested_error_body_is_still_the_status_error() -> None:
    async with (
        body_server(b'{"errors": ' + b"[" * DEEP + b"]" * DEEP + b"}", status=400) as (url, _),
        hc.HelpCrunch(KEY, base_url=url, max_retries=0) as client,
    ):
        with pytest.raises(hc.BadRequestError):
            await client.chats.list()


IMPOSSIBLE_TOTALS = {
    "negative top-level": b'{"total": -5, "data": []}',
    "negative meta": b'{"meta": {"total": -5}, "data": []}',
    "beyond int64": b'{"total": 123456789012345678901234567890, "meta": {"total": 1}, "data": []}',
}


@pytest.mark.parametrize("body", IMPOSSIBLE_TOTALS.values(), ids=IMPOSSIBLE_TOTALS.keys())
@pytest.mark.parametrize(
    "call",
    [v for k, v in CALLS.items() if k not in ("customer", "chat")],
    ids=[k for k in CALLS if k not in ("customer", "chat")],
)
async def test_an_impossible_total_is_a_decode_error_with_its_path(
    call: Callable[[hc.HelpCrunch], Awaitable[Any]], body: bytes
) -> None:
    async with (
        body_server(body) as (url, _),
        hc.HelpCrunch(KEY, base_url=url, max_retries=0) as client,
    ):
        with pytest.raises(hc.DecodeError, match=r"total"):
            await call(client)


async def test_a_negative_total_does_not_end_a_scan_as_complete() -> None:
    # A scan planned around total=-5 read one page and called itself complete.
    body = b'{"meta": {"total": -5}, "data": [{"id": 1}, {"id": 2}]}'
    async with (
        body_server(body) as (url, _),
        hc.HelpCrunch(KEY, base_url=url, backoff=0.001, max_backoff=0.002, max_retries=1) as client,
    ):
        with pytest.raises(hc.DecodeError):
            await drain(client.chats.iter_all())


BEYOND_64_BITS = {
    "a chat id": b'{"meta": {"total": 1}, "total": 1, "data": [{"id": 99999999999999999999}]}',
    "a message's chat": b'{"total": 1, "data": [{"id": 1, "chat": 99999999999999999999}]}',
    "a timestamp as text": (
        b'{"meta": {"total": 1}, "total": 1, "data": '
        b'[{"id": 1, "createdAt": "99999999999999999999999999"}]}'
    ),
    "a timestamp as a number": (
        b'{"meta": {"total": 1}, "total": 1, "data": [{"id": 1, "createdAt": 1e300}]}'
    ),
}


@pytest.mark.parametrize("body", BEYOND_64_BITS.values(), ids=BEYOND_64_BITS.keys())
async def test_an_id_or_timestamp_beyond_64_bits_is_a_decode_error_with_its_path(
    body: bytes,
) -> None:
    # Accepted before: the dlt mirror's bigint columns cannot hold them, so a
    # sync failed late, inside the destination, instead of at the wire.
    async with (
        body_server(body) as (url, _),
        hc.HelpCrunch(KEY, base_url=url, max_retries=0) as client,
    ):
        read = client.chats.messages(1) if b'"chat"' in body else client.chats.list()
        with pytest.raises(hc.DecodeError, match=r"\$\.data\[0\]"):
            await read
