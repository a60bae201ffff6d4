"""One `LocalBudget` shared by event loops in several threads never grants a slot too many."""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import TYPE_CHECKING

import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import ThreadedEmulator, max_in_any_window

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

LIMIT = 30
THREADS = 6
TASKS = 12


@pytest.fixture
def tiny_switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


async def hammer(take: Callable[[], Awaitable[object]], seconds: float) -> None:
    """Call ``take`` over and over in TASKS tasks for ``seconds``."""

    async def forever() -> None:
        while True:
            await take()

    tasks = [asyncio.create_task(forever()) for _ in range(TASKS)]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def in_threads(run: Callable[[], Awaitable[None]]) -> None:
    """Run ``run()`` on its own event loop in each of THREADS threads, started together."""
    start = threading.Barrier(THREADS)

    async def main() -> None:
        start.wait()
        await run()

    threads = [threading.Thread(target=asyncio.run, args=(main(),)) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_the_bare_budget_holds_across_threads(tiny_switch_interval: None) -> None:
    del tiny_switch_interval
    for _ in range(20):
        budget = hc.LocalBudget(LIMIT, 60.0)
        granted: list[float] = []

        async def take(budget: hc.LocalBudget = budget, granted: list[float] = granted) -> None:
            granted.append(await budget.acquire())
            await budget.on_success(granted[-1])  # answered, as the transport reports

        async def run(take: Callable[[], Awaitable[None]] = take) -> None:
            await hammer(take, 0.05)

        in_threads(run)
        assert len(granted) == LIMIT


def test_clients_in_several_threads_share_one_cap(tiny_switch_interval: None) -> None:
    del tiny_switch_interval
    budget = hc.LocalBudget(LIMIT, 60.0)
    with ThreadedEmulator(customers=5, seed=2, api_key="k", rate_limit=1000) as emu:

        async def run() -> None:
            # One client per thread (a client belongs to one event loop), one budget.
            async with hc.HelpCrunch("k", base_url=emu.base_url, rate_budget=budget) as client:
                await hammer(lambda: client.customers.list(limit=1), 0.6)

        in_threads(run)
        times = [entry.time for entry in emu.log]
    assert len(times) == LIMIT
    assert max_in_any_window(times, 60.0) == LIMIT
