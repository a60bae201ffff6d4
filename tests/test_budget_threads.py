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
    from collections.abc import Iterator

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


def test_the_bare_budget_holds_across_threads(tiny_switch_interval: None) -> None:
    del tiny_switch_interval
    for _ in range(20):
        budget = hc.LocalBudget(LIMIT, 60.0)
        granted: list[float] = []
        start = threading.Barrier(THREADS)

        async def take(budget: hc.LocalBudget = budget, granted: list[float] = granted) -> None:
            while True:
                granted.append(await budget.acquire())

        def run(start: threading.Barrier = start) -> None:
            async def main() -> None:
                start.wait()
                tasks = [asyncio.create_task(take()) for _ in range(TASKS)]
                await asyncio.sleep(0.05)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            asyncio.run(main())

        threads = [threading.Thread(target=run) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(granted) == LIMIT


def test_clients_in_several_threads_share_one_cap(tiny_switch_interval: None) -> None:
    del tiny_switch_interval
    budget = hc.LocalBudget(LIMIT, 60.0)
    with ThreadedEmulator(customers=5, seed=2, api_key="k", rate_limit=1000) as emu:
        start = threading.Barrier(THREADS)

        def run() -> None:
            async def one(client: hc.HelpCrunch) -> None:
                while True:
                    await client.customers.list(limit=1)

            async def main() -> None:
                async with hc.HelpCrunch("k", base_url=emu.base_url, rate_budget=budget) as c:
                    start.wait()
                    tasks = [asyncio.create_task(one(c)) for _ in range(TASKS)]
                    await asyncio.sleep(0.6)
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)

            asyncio.run(main())

        threads = [threading.Thread(target=run) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        times = [entry.time for entry in emu.log]
    assert len(times) == LIMIT
    assert max_in_any_window(times, 60.0) == LIMIT
