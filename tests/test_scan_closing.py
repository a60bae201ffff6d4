"""A scan left early, dropped, or cut short by closing its client leaves nothing running.

A scan cut short by the client's close raises `ClientClosedError` at its next
step instead of ending as if it had read everything.
"""

from __future__ import annotations

import asyncio
import gc
from typing import TYPE_CHECKING, Any

import pytest
from scan_reads import drain

import helpcrunch_async as hc
from helpcrunch_async.testing import Account, Emulator

if TYPE_CHECKING:
    from collections.abc import Callable

KEY = "test-key"
CUSTOMER_IDS = [hc.Filter("customers.id", ">=", 1)]


def our_tasks() -> list[asyncio.Task[Any]]:
    """Tasks still pending, but this test's own and the emulator's connection handlers."""
    return [
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task() and not t.done() and "RequestHandler" not in repr(t)
    ]


async def first_messages(scan: Any, count: int) -> None:
    got = 0
    async for _ in scan:
        got += 1
        if got == count:
            break


async def test_closing_a_fan_out_over_a_scan_after_break_leaves_no_task() -> None:
    # aclose() cancelled the key feeder, but an answer arriving while it waited
    # for the feeder to end dispatched again and started a new feeder, left pending.
    async with (
        Emulator(customers=20, chats=120, seed=2, api_key=KEY, latency=0.005) as emu,
        hc.HelpCrunch(KEY, base_url=emu.base_url, rate_limit=10_000, rate_period=1.0) as client,
    ):
        for _ in range(5):
            chats = client.chats.iter_all(page_size=10)
            scan = client.chats.iter_messages_of(chats, page_size=5)
            await first_messages(scan, 7)
            await scan.aclose()
            await asyncio.sleep(0.02)
            assert our_tasks() == []


async def test_a_fan_out_over_a_scan_dropped_after_break_stops_at_once() -> None:
    # The feeder task held the scan strongly: a dropped scan lived on in a
    # cycle with its pending feeder until the collector destroyed the task.
    loop = asyncio.get_running_loop()
    problems: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: problems.append(context))
    try:
        async with (
            Emulator(customers=20, chats=120, seed=2, api_key=KEY, latency=0.005) as emu,
            hc.HelpCrunch(KEY, base_url=emu.base_url, rate_limit=10_000, rate_period=1.0) as c,
        ):
            for _ in range(5):
                scan = c.chats.iter_messages_of(c.chats.iter_all(page_size=10), page_size=5)
                await first_messages(scan, 7)
                del scan
                await asyncio.sleep(0.05)
                assert our_tasks() == []
                gc.collect()
                await asyncio.sleep(0.01)
    finally:
        loop.set_exception_handler(None)
    assert [p.get("message") for p in problems] == []


SCANS_OF = {
    "chats.iter_all": lambda c: c.chats.iter_all(page_size=10),
    "chats.iter_messages_of": lambda c: c.chats.iter_messages_of(c.chats.iter_all(), page_size=5),
    "customers.iter_search": lambda c: c.customers.iter_search(CUSTOMER_IDS, page_size=10),
    "agents.iter_all": lambda c: c.agents.iter_all(page_size=1),
}


@pytest.mark.parametrize("scan_of", SCANS_OF.values(), ids=SCANS_OF.keys())
async def test_a_scan_cut_short_by_closing_the_client_is_not_an_end(
    scan_of: Callable[[hc.HelpCrunch], Any],
) -> None:
    # The client closed by another task (a web app's shutdown) ended the
    # consumer's `async for` normally: a partial read looked complete.
    async with Emulator(
        customers=300, chats=200, api_key=KEY, latency=0.01, account=Account(agents=300)
    ) as emu:
        client = hc.HelpCrunch(KEY, base_url=emu.base_url, rate_limit=10_000, rate_period=1.0)
        scan = scan_of(client)
        read: list[Any] = []

        async def consume() -> None:
            async for item in scan:
                read.append(item)
                await asyncio.sleep(0.001)

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.1)
        await client.close()
        with pytest.raises(hc.ClientClosedError, match="before this scan ended"):
            await task
        assert read
    # A scan that had ended, or that its consumer closed, ends as before.
    async with Emulator(customers=5, api_key=KEY) as emu:
        client = hc.HelpCrunch(KEY, base_url=emu.base_url)
        done = client.customers.iter_all()
        assert len(await drain(done)) == 5
        closed = client.customers.iter_all()
        await anext(closed)
        await closed.aclose()
        await client.close()
        assert [c async for c in done] == []
        assert [c async for c in closed] == []
