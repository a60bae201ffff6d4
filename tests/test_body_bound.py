"""A body may inflate only so far: a gzip bomb is refused as it is read, over a real socket."""

from __future__ import annotations

import asyncio
import json
import zlib

import pytest
from aiohttp import web
from wire_servers import CountingBudget, serving

import helpcrunch_async as hc
from helpcrunch_async._core.retry import Failure, Outcome, Result, RetryPolicy, decide

pytestmark = pytest.mark.timeout(60)

MIB = 1024 * 1024
PAGE = {"total": 1, "data": [{"id": 7, "email": "a@example.com", "name": "A"}]}


def gzip_of_zeros(mebibytes: int) -> bytes:
    """Return a gzip member that inflates to ``mebibytes`` MiB of zero bytes (about 1 KiB each)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(MIB)
    return b"".join(squeeze.compress(block) for _ in range(mebibytes)) + squeeze.flush()


def client(base_url: str, budget: CountingBudget, *, max_body_size: int) -> hc.HelpCrunch:
    return hc.HelpCrunch(
        "key", base_url=base_url, rate_budget=budget, backoff=0.0, max_body_size=max_body_size
    )


async def test_a_gzip_bomb_is_refused_once_past_the_bound_and_not_retried() -> None:
    bomb = gzip_of_zeros(64)
    assert len(bomb) < MIB // 8

    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip"})

    budget = CountingBudget()
    async with serving(handler) as base_url, client(base_url, budget, max_body_size=MIB) as hc_:
        with pytest.raises(hc.DecodeError, match=r"larger than max_body_size \(1,048,576 bytes"):
            await hc_.customers.list()
    assert budget.granted == 1


async def test_reading_stops_at_the_bound_of_an_endless_body() -> None:
    # Without the bound this answer never ends: the test would run into its timeout.
    ended = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Encoding": "gzip"})
        await response.prepare(request)
        squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
        block = bytes(MIB)
        try:
            while True:
                await response.write(squeeze.compress(block) + squeeze.flush(zlib.Z_SYNC_FLUSH))
                # The client runs in this event loop, and loopback writes rarely block.
                await asyncio.sleep(0)
        except (ConnectionError, RuntimeError):
            ended.set()
        return response

    budget = CountingBudget()
    async with serving(handler) as base_url, client(base_url, budget, max_body_size=MIB) as hc_:
        with pytest.raises(hc.DecodeError, match="max_body_size"):
            await hc_.customers.list()
        # The client dropped the connection: the server's next write fails.
        await asyncio.wait_for(ended.wait(), 10)
    assert budget.granted == 1


async def test_a_plain_body_past_the_bound_is_refused_too() -> None:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=b" " * (2 * MIB), content_type="application/json")

    budget = CountingBudget()
    async with serving(handler) as base_url, client(base_url, budget, max_body_size=MIB) as hc_:
        with pytest.raises(hc.DecodeError, match="max_body_size"):
            await hc_.customers.list()


async def test_a_compressed_page_under_the_bound_reads_as_ever() -> None:
    body = json.dumps(PAGE).encode()
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    packed = squeeze.compress(body) + squeeze.flush()

    async def handler(_: web.Request) -> web.Response:
        return web.Response(
            body=packed, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
        )

    budget = CountingBudget()
    async with (
        serving(handler) as base_url,
        client(base_url, budget, max_body_size=len(body)) as hc_,
    ):
        page = await hc_.customers.list()
    assert [c.id for c in page.data] == [7]
    # One byte less than the page is too little: the bound is exact.
    async with (
        serving(handler) as base_url,
        client(base_url, budget, max_body_size=len(body) - 1) as hc_,
    ):
        with pytest.raises(hc.DecodeError, match="max_body_size"):
            await hc_.customers.list()


@pytest.mark.parametrize("size", [0, -1, 1.5, True, 2**63])
def test_the_bound_is_checked_at_construction(size: object) -> None:
    with pytest.raises(hc.InvalidParameterError, match="max_body_size"):
        hc.HelpCrunch("key", max_body_size=size)  # type: ignore[arg-type]


def test_a_body_too_large_is_never_retried() -> None:
    refused = Result(status=200, failure=Failure.TOO_LARGE)
    decision = decide(refused, retries=0, policy=RetryPolicy(), rand=0.5, max_pause=None)
    assert decision.outcome is Outcome.FAIL
