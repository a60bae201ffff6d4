"""`LocalBudget` knows time only through the clock and the sleep it is given: exact waits."""

from __future__ import annotations

import asyncio

import pytest
from manual_clock import ManualClock

import helpcrunch_async as hc


async def test_a_full_window_waits_exactly_until_its_first_send_is_a_period_old() -> None:
    clock = ManualClock(start=1000.0)
    budget = hc.LocalBudget(2, 10.0, clock=clock, sleep=clock.sleep)
    async with asyncio.timeout(5):  # the clock never moves by itself: bound every wait
        sends = [await budget.acquire(), await budget.acquire()]
        for stamp in sends:
            await budget.on_success(stamp)  # the burst is taken: no pacing
        assert sends == [1000.0, 1000.0]
        third = asyncio.create_task(budget.acquire())
        await clock.until_sleeping(1)
        # The window of the first two ends at 1010 s, plus the 2% margin of 10 s.
        assert clock.sleeping == [pytest.approx(1010.2)]
        clock.advance(10.1)
        await asyncio.sleep(0)
        assert not third.done()
        clock.advance(0.1)
        assert await third == pytest.approx(1010.2)
    assert clock.sleeping == []
    assert clock.slept == [pytest.approx(10.2)]


async def test_a_429_pause_is_waited_on_the_clock_and_pause_left_reads_it() -> None:
    clock = ManualClock(start=50.0)
    budget = hc.LocalBudget(10, 1.0, clock=clock, sleep=clock.sleep)
    async with asyncio.timeout(5):
        stamp = await budget.acquire()
        assert await budget.on_rate_limited(stamp, 30.0) == 30.0
        assert budget.pause_left() == 30.0
        clock.advance(12.0)
        assert budget.pause_left() == pytest.approx(18.0)
        waiting = asyncio.create_task(budget.acquire())
        await clock.until_sleeping(1)
        assert clock.sleeping == [pytest.approx(80.0)]
        clock.advance(18.0)
        assert await waiting == pytest.approx(80.0)
    assert budget.pause_left() == 0.0
