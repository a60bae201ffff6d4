from __future__ import annotations

import math
from itertools import pairwise
from typing import TYPE_CHECKING

import pytest
from emulator_wire import Wire, wire
from manual_clock import ManualClock

from helpcrunch_async._core.retry import parse_retry_after
from helpcrunch_async.testing import Emulator, RateLimit, max_in_any_window

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.timeout(30)

# Compressed time: 5 requests per half second stands in for 120 per minute.
LIMIT, PERIOD = 5, 0.5


@pytest.fixture
async def client() -> AsyncIterator[Wire]:
    async with wire() as opened:
        yield opened


async def hammer(client: Wire, emu: Emulator, clock: ManualClock, seconds: float) -> None:
    """Send a request every 10 ms of the server's clock for ``seconds``; check each 429."""
    for _ in range(round(seconds / 0.01)):
        reply = await client.get(emu, limit=1)
        assert reply.status in {200, 429}
        if reply.status == 429:
            assert reply.json()["errors"] == [
                {"code": "too_many_requests", "message": "You have exceeded your requests limit"}
            ]
            assert ("Retry-After" in reply.headers) == emu.retry_after
        clock.advance(0.01)


@pytest.mark.parametrize("policy", ["sliding", "fixed", "token-bucket", "no-burst", "none"])
async def test_each_policy_holds_over_the_wire(client: Wire, policy: str) -> None:
    clock = ManualClock()
    async with Emulator(
        customers=20,
        policy=policy,
        rate_limit=LIMIT,
        rate_period=PERIOD,
        monotonic=clock,
        sleep=clock.sleep,
    ) as emu:
        await hammer(client, emu, clock, 0.2 if policy == "none" else 0.8)
    log = emu.log
    assert all((e.status == 200) == e.accepted for e in log)
    accepted = [e.time for e in log if e.accepted]
    if policy == "none":
        assert len(accepted) == len(log)
        return
    assert len(accepted) < len(log), "the hammer must have hit the limit"
    if policy == "sliding":
        assert max_in_any_window(accepted, PERIOD) == LIMIT
    elif policy == "fixed":
        windows = [math.floor(t / PERIOD) for t in accepted]
        assert max(windows.count(w) for w in windows) == LIMIT
        assert max_in_any_window(accepted, PERIOD) <= 2 * LIMIT
    elif policy == "token-bucket":
        rate = LIMIT / PERIOD
        for i, first in enumerate(accepted):
            for j in range(i, len(accepted)):
                assert j - i + 1 <= LIMIT + (accepted[j] - first) * rate + 1e-6
    else:
        gaps = [b - a for a, b in pairwise(accepted)]
        assert min(gaps) >= PERIOD / LIMIT - 1e-9


async def test_retry_after_is_whole_seconds_rounded_up(client: Wire) -> None:
    async with Emulator(customers=5, policy="sliding", rate_limit=2, rate_period=2.5) as emu:
        assert [(await client.get(emu)).status for _ in range(2)] == [200, 200]
        reply = await client.get(emu)
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "3"


async def test_retry_after_in_a_finer_resolution_is_a_decimal_the_client_reads(
    client: Wire,
) -> None:
    # One request per 6.25 s: the second waits 6.25 s less the gap (well under 0.25 s).
    rate = RateLimit(policy="no-burst", limit=1, period=6.25, retry_after_resolution=0.5)
    async with Emulator(customers=5, rate=rate) as emu:
        assert (await client.get(emu)).status == 200
        reply = await client.get(emu)
        assert reply.status == 429
        assert reply.headers["Retry-After"] == "6.5"
        assert parse_retry_after(reply.headers["Retry-After"], now=0.0) == 6.5
        emu.configure(retry_after_resolution=1.0)
        reply = await client.get(emu)
    assert reply.status == 429, "changing the manners keeps the policy's state"
    assert reply.headers["Retry-After"] == "7"


async def test_retry_after_can_be_switched_off(client: Wire) -> None:
    rate = RateLimit(policy="fixed", limit=1, period=10.0, retry_after=False)
    async with Emulator(customers=5, rate=rate) as emu:
        await client.get(emu)
        reply = await client.get(emu)
    assert reply.status == 429
    assert "Retry-After" not in reply.headers


@pytest.mark.parametrize(
    ("count_rejected", "expected"),
    [
        (True, [200, 200, 429, 429, 429, 429, 429, 429]),  # each refusal refills the window
        (False, [200, 200, 429, 200, 200, 429, 200, 200]),  # the window empties on time
    ],
)
async def test_count_rejected_decides_whether_hammering_prolongs_the_lockout(
    client: Wire, count_rejected: bool, expected: list[int]
) -> None:
    # The rate windows run on the server's injected clock: one request a second
    # against 2 per 3 s, each arrival stamped exactly when the test says.
    clock = ManualClock()
    rate = RateLimit(policy="sliding", limit=2, period=3.0, count_rejected=count_rejected)
    statuses = []
    async with Emulator(customers=5, rate=rate, monotonic=clock, sleep=clock.sleep) as emu:
        for _ in range(8):
            statuses.append((await client.get(emu, limit=1)).status)
            clock.advance(1.0)
        assert emu.started_at == 1000.0
    assert statuses == expected
    assert [entry.time for entry in emu.log] == [1000.0 + second for second in range(8)]


async def test_retry_after_is_read_on_the_servers_clock(client: Wire) -> None:
    clock = ManualClock()
    rate = RateLimit(policy="sliding", limit=1, period=30.0)
    async with Emulator(customers=5, rate=rate, monotonic=clock, sleep=clock.sleep) as emu:
        assert (await client.get(emu)).status == 200
        clock.advance(12.5)
        refused = await client.get(emu)
        assert (refused.status, refused.headers["Retry-After"]) == (429, "18")
        clock.advance(17.5)
        assert (await client.get(emu)).status == 200
    assert clock.slept == [], "the rate policy decides; it never sleeps"


async def test_every_v1_request_counts_even_unauthorized_and_invalid(client: Wire) -> None:
    async with Emulator(customers=5, policy="sliding", rate_limit=3, rate_period=10.0) as emu:
        assert (await client.get(emu, key=None)).status == 401
        assert (await client.get(emu, limit=0)).status == 400
        assert (await client.get(emu, "/customers/1")).status == 404
        assert (await client.get(emu)).status == 429
        assert (await client.get(emu, key=None)).status == 429, "the limit is checked first"
        assert (await client.admin(emu, "stats")).status == 200, "admin is never limited"


async def test_changing_the_policy_at_runtime_starts_afresh(client: Wire) -> None:
    async with Emulator(customers=5, policy="fixed", rate_limit=1, rate_period=10.0) as emu:
        await client.get(emu)
        assert (await client.get(emu)).status == 429
        emu.configure(policy="sliding", rate_limit=2)
        assert [(await client.get(emu)).status for _ in range(3)] == [200, 200, 429]
        emu.configure(policy="none")
        assert (await client.get(emu)).status == 200
