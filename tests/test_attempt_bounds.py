"""What bounds one attempt: ``timeout`` end to end, ``max_rate_limit_wait`` for a 429's pause."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest
from aiohttp import web
from manual_clock import ManualClock
from wire_servers import CountingBudget, serving

import helpcrunch_async as hc

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

PAGE = b'{"total": 1, "data": [{"id": 7}]}'


@pytest.fixture
async def slow_halves() -> AsyncIterator[tuple[str, asyncio.Queue[bool]]]:
    # One entry per attempt, put when its body is due: was the client still there?
    abandoned: asyncio.Queue[bool] = asyncio.Queue()

    async def handle(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.6)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(PAGE)
        await response.prepare(request)
        await asyncio.sleep(0.6)
        transport = request.transport
        abandoned.put_nowait(transport is None or transport.is_closing())
        await response.write(PAGE)
        return response

    async with serving(handle) as url:
        yield url, abandoned


async def test_the_timeout_bounds_headers_and_body_together(
    slow_halves: tuple[str, asyncio.Queue[bool]],
) -> None:
    base_url, abandoned = slow_halves
    budget = CountingBudget()
    async with hc.HelpCrunch(
        "k", base_url=base_url, timeout=1.0, max_retries=1, backoff=0.0, rate_budget=budget
    ) as client:
        # Each half fits in the timeout, the two together do not: a timeout on
        # the headers alone would let this call succeed.
        with pytest.raises(hc.RequestTimeoutError, match="within 1 s"):
            await client.customers.list(limit=1)
    # Two attempts, both counted in the cap, and each was abandoned by the
    # client before its body came: the server finds the connection gone.
    assert budget.granted == 2
    async with asyncio.timeout(5):
        assert [await abandoned.get(), await abandoned.get()] == [True, True]
    assert abandoned.empty()


@pytest.fixture
async def refuses_for_an_hour() -> AsyncIterator[tuple[str, list[float]]]:
    seen: list[float] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        del request
        seen.append(time.monotonic())
        return web.Response(
            status=429,
            text='{"errors": [{"code": "too_many_requests", "message": "slow down"}]}',
            content_type="application/json",
            headers={"Retry-After": "3600"},
        )

    async with serving(handle) as url:
        yield url, seen


async def test_a_429_asking_for_longer_than_max_rate_limit_wait_fails_at_once(
    refuses_for_an_hour: tuple[str, list[float]],
) -> None:
    base_url, seen = refuses_for_an_hour
    # Time passes only when the test moves this clock, and it never does: a
    # call that waited for the pause would wait for ever (the timeout says so).
    clock = ManualClock()
    budget = hc.LocalBudget(120, 60.0, clock=clock, sleep=clock.sleep)
    async with hc.HelpCrunch("k", base_url=base_url, max_retries=5, rate_budget=budget) as client:
        async with asyncio.timeout(5):
            with pytest.raises(hc.RateLimitError, match="max_rate_limit_wait") as first:
                await client.customers.list(limit=1)
            # The budget now pauses every request for the hour: the next call
            # does not wait for it either, and sends nothing.
            with pytest.raises(hc.RateLimitError, match="max_rate_limit_wait") as second:
                await client.customers.get(1)
    assert first.value.retry_after == 3600
    assert second.value.retry_after is not None
    assert 3590 < second.value.retry_after <= 3600
    assert len(seen) == 1
    assert clock.slept == []


async def test_a_call_waiting_for_its_slot_gives_up_when_a_long_pause_starts(
    refuses_for_an_hour: tuple[str, list[float]],
) -> None:
    base_url, seen = refuses_for_an_hour
    # One request per minute: the second call waits in the budget for its slot
    # when the first call's 429 pauses every request for an hour. The clock
    # never moves, so the second call gives up without waiting out its slot.
    clock = ManualClock()
    budget = hc.LocalBudget(1, 60.0, clock=clock, sleep=clock.sleep)
    async with hc.HelpCrunch("k", base_url=base_url, rate_budget=budget) as client:
        async with asyncio.timeout(5):
            first, second = await asyncio.gather(
                client.customers.list(limit=1),
                client.customers.get(1),
                return_exceptions=True,
            )
    assert isinstance(first, hc.RateLimitError)
    assert isinstance(second, hc.RateLimitError)
    assert second.retry_after is not None
    assert second.retry_after > 3000
    assert len(seen) == 1
    # It waited in the budget, and gave that wait up with no time passing.
    assert clock.slept
    assert clock.sleeping == []
    # The call that gave up took no slot: the log holds the first request only.
    assert len(budget._cap._sent) == 1


async def test_max_rate_limit_wait_is_a_setting(
    refuses_for_an_hour: tuple[str, list[float]],
) -> None:
    base_url, seen = refuses_for_an_hour
    async with hc.HelpCrunch("k", base_url=base_url, max_rate_limit_wait=7200) as client:
        task = asyncio.create_task(client.customers.list(limit=1))
        await asyncio.sleep(0.3)
        # Within the bound: the call waits for the pause rather than failing.
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(seen) == 1


@pytest.mark.parametrize("bad", [-1, float("nan"), "120", True])
def test_a_bad_max_rate_limit_wait_is_refused(bad: object) -> None:
    with pytest.raises(hc.InvalidParameterError, match="max_rate_limit_wait"):
        hc.HelpCrunch("k", base_url="http://127.0.0.1:1/v1", max_rate_limit_wait=bad)  # type: ignore[arg-type]  # a wrong type on purpose
