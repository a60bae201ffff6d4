from __future__ import annotations

import asyncio
from collections import Counter
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest
from emulator_wire import Wire, wire
from manual_clock import ManualClock

from helpcrunch_async.testing import FAULT_KINDS, Emulator, Faults
from helpcrunch_async.testing._faults import FaultDice, parse_fail

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.timeout(30)

ERROR_CODES = {
    400: "validation_error",
    401: "invalid_token",
    404: "entity_not_found",
    429: "too_many_requests",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


@pytest.fixture
async def client() -> AsyncIterator[Wire]:
    async with wire() as opened:
        yield opened


@pytest.mark.parametrize("status", sorted(ERROR_CODES))
async def test_a_forced_status_answers_the_kth_request_only(client: Wire, status: int) -> None:
    async with Emulator(customers=10, faults=Faults(fail={2: str(status)})) as emu:
        replies = [await client.get(emu) for _ in range(3)]
    assert [r.status for r in replies] == [200, status, 200]
    assert replies[1].json() == {
        "errors": [
            {"code": ERROR_CODES[status], "message": replies[1].json()["errors"][0]["message"]}
        ]
    }
    assert ("Retry-After" in replies[1].headers) == (status == 429)
    assert [e.fault for e in emu.log] == [None, str(status), None]


async def test_drop_breaks_the_connection_mid_body(client: Wire) -> None:
    async with Emulator(customers=100, faults=Faults(fail={1: "drop"})) as emu:
        with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError)):
            await client.get(emu)
        assert (await client.get(emu)).status == 200, "the next request is served"


async def test_truncate_sends_an_honest_length_of_broken_json(client: Wire) -> None:
    async with Emulator(customers=100, faults=Faults(fail={1: "truncate"})) as emu:
        reply = await client.get(emu)
    assert reply.status == 200
    assert int(reply.headers["Content-Length"]) == len(reply.body)
    with pytest.raises(msgspec.DecodeError):
        reply.json()


async def test_malformed_is_invalid_json_or_the_wrong_shape(client: Wire) -> None:
    async with Emulator(customers=100, faults=Faults(fail={1: "malformed", 2: "malformed"})) as emu:
        replies = [await client.get(emu) for _ in range(2)]
    assert [r.status for r in replies] == [200, 200]
    outcomes = set()
    for reply in replies:
        try:
            page = reply.json()
        except msgspec.DecodeError:
            outcomes.add("invalid")
        else:
            assert not isinstance(page.get("total"), int) or not isinstance(page.get("data"), list)
            outcomes.add("shape")
    assert outcomes == {"invalid", "shape"}


async def test_hang_outlasts_the_client_and_stop_stays_prompt() -> None:
    clock = ManualClock()
    faults = Faults(fail={1: "hang"})
    emu = Emulator(customers=10, faults=faults, monotonic=clock, sleep=clock.sleep)
    await emu.start()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as session:
            headers = {"Authorization": f"Bearer {emu.api_key}"}
            with pytest.raises(TimeoutError):
                async with session.get(emu.base_url + "/customers", headers=headers) as response:
                    await response.read()
        # The server asked for the hour's sleep (the default hang) and is in it.
        assert clock.sleeping == [1000.0 + 3600.0]
    finally:
        # The handler still sleeps through its hour: a stop that waited for it
        # would end in this bound's TimeoutError, not in a duration compared.
        async with asyncio.timeout(10):
            await emu.stop()
    # The one request arrived and was the hang (logged with the 504 it would end in).
    assert [(entry.time, entry.status) for entry in emu.log] == [(1000.0, 504)]
    assert clock.slept == [3600.0]


async def test_a_short_hang_ends_in_504(client: Wire) -> None:
    clock = ManualClock()
    faults = Faults(fail={1: "hang"}, hang=0.2)
    # The clock never moves by itself: bound every wait.
    async with (
        Emulator(customers=10, faults=faults, monotonic=clock, sleep=clock.sleep) as emu,
        asyncio.timeout(5),
        asyncio.TaskGroup() as tasks,
    ):
        reply = tasks.create_task(client.get(emu))
        await clock.until_sleeping(1)
        assert clock.sleeping == [pytest.approx(1000.2)]
        clock.advance(0.19)
        await asyncio.sleep(0)
        assert not reply.done(), "no answer before the hang's time is up"
        clock.advance(0.01)
        assert (await reply).status == 504
    assert clock.slept == [0.2]


async def test_latency_is_slept_after_the_arrival_is_logged(client: Wire) -> None:
    clock = ManualClock()
    faults = Faults(latency=0.2, jitter=0.1)
    latency = FaultDice().delay(faults)  # the seeded draw the server makes (seed 0)
    async with (
        Emulator(customers=10, faults=faults, monotonic=clock, sleep=clock.sleep) as emu,
        asyncio.timeout(5),
        asyncio.TaskGroup() as tasks,
    ):
        reply = tasks.create_task(client.get(emu))
        await clock.until_sleeping(1)
        # The arrival is stamped and logged before the latency is slept.
        assert [(entry.time, entry.status) for entry in emu.log] == [(1000.0, 200)]
        assert clock.sleeping == [1000.0 + latency]
        assert not reply.done()
        clock.advance(latency)
        assert (await reply).status == 200
    assert 0.2 <= latency <= 0.3
    assert clock.slept == [latency]


async def test_the_way_in_is_slept_before_the_arrival_is_logged(client: Wire) -> None:
    clock = ManualClock()
    faults = Faults(arrival_delay=0.2, arrival_jitter=0.1)
    way_in = FaultDice().arrival_delay(faults)
    async with (
        Emulator(customers=10, faults=faults, monotonic=clock, sleep=clock.sleep) as emu,
        asyncio.timeout(5),
        asyncio.TaskGroup() as tasks,
    ):
        reply = tasks.create_task(client.get(emu))
        await clock.until_sleeping(1)
        assert emu.log == [], "not counted while on the way in"
        assert clock.sleeping == [1000.0 + way_in]
        clock.advance(way_in)
        # No latency: the answer follows the arrival without another sleep.
        assert (await reply).status == 200
    assert [entry.time for entry in emu.log] == [1000.0 + way_in]
    assert 0.2 <= way_in <= 0.3
    assert clock.slept == [way_in]


async def statuses(client: Wire, emu: Emulator, count: int) -> list[int | str]:
    result: list[int | str] = []
    for _ in range(count):
        try:
            result.append((await client.get(emu)).status)
        except aiohttp.ClientError:
            result.append("dropped")
    return result


async def test_random_errors_follow_the_rate_and_the_seed(client: Wire) -> None:
    faults = Faults(error_rate=0.3)
    async with Emulator(customers=10, faults=faults, fault_seed=4) as emu:
        first = await statuses(client, emu, 200)
    async with Emulator(customers=10, faults=faults, fault_seed=4) as emu:
        again = await statuses(client, emu, 200)
    async with Emulator(customers=10, faults=faults, fault_seed=5) as emu:
        other = await statuses(client, emu, 200)
    assert first == again
    assert first != other
    counts = Counter(first)
    assert set(counts) == {200, 500, 502, 503}
    assert 30 <= 200 - counts[200] <= 90


@pytest.mark.parametrize("kind", ["drop", "truncate", "malformed"])
async def test_each_random_body_fault_at_rate_one(client: Wire, kind: str) -> None:
    faults = Faults(**{f"{kind}_rate": 1.0})  # type: ignore[arg-type]  # the rate keyword varies
    async with Emulator(customers=10, faults=faults) as emu:
        await statuses(client, emu, 3)
    assert [e.fault for e in emu.log] == [kind] * 3


async def test_faults_change_mid_scan(client: Wire) -> None:
    async with Emulator(customers=300) as emu:
        assert (await client.get(emu)).status == 200
        emu.faults.error_rate = 1.0
        assert (await client.get(emu, offset=100)).status in {500, 502, 503}
        emu.configure(error_rate=0.0, fail={4: "503"})
        assert [(await client.get(emu, offset=100)).status for _ in range(2)] == [200, 503]


async def test_random_faults_spare_rejected_requests(client: Wire) -> None:
    async with Emulator(
        customers=5, policy="fixed", rate_limit=1, rate_period=10.0, faults=Faults(error_rate=1.0)
    ) as emu:
        await client.get(emu)
        assert (await client.get(emu)).status == 429
    assert [e.fault for e in emu.log][1] is None


async def test_a_forced_fault_overrides_the_rate_policy(client: Wire) -> None:
    async with Emulator(
        customers=5, policy="fixed", rate_limit=1, rate_period=10.0, faults=Faults(fail={2: "500"})
    ) as emu:
        await client.get(emu)
        assert (await client.get(emu)).status == 500
    assert not emu.log[1].accepted


def test_dice_are_reproducible_and_respect_forced_kinds() -> None:
    faults = Faults(error_rate=0.2, drop_rate=0.2, truncate_rate=0.2, malformed_rate=0.2)
    one, two = FaultDice(1), FaultDice(1)
    picks = [one.pick(faults, k, accepted=True) for k in range(1, 500)]
    assert picks == [two.pick(faults, k, accepted=True) for k in range(1, 500)]
    counts = Counter(picks)
    assert set(counts) == {None, "500", "502", "503", "drop", "truncate", "malformed"}
    assert 50 < counts[None] < 150
    faults.fail = {3: "hang"}
    assert FaultDice(1).pick(faults, 3, accepted=False) == "hang"
    assert FaultDice(1).pick(faults, 4, accepted=False) is None


def test_delays_stay_within_latency_plus_jitter() -> None:
    dice = FaultDice(0)
    delays = [dice.delay(Faults(latency=0.1, jitter=0.05)) for _ in range(200)]
    assert all(0.1 <= d <= 0.15 for d in delays)
    assert len(set(delays)) > 100
    assert dice.delay(Faults(latency=0.3)) == 0.3
    inbound = [
        dice.arrival_delay(Faults(arrival_delay=0.02, arrival_jitter=0.05)) for _ in range(200)
    ]
    assert all(0.02 <= d <= 0.07 for d in inbound)
    assert len(set(inbound)) > 100


@pytest.mark.parametrize(
    "bad",
    [
        {"error_rate": 1.5},
        {"error_rate": 0.6, "drop_rate": 0.6},
        {"latency": -1.0},
        {"arrival_jitter": -0.1},
        {"fail": {0: "500"}},
        {"fail": {1: "418"}},
    ],
)
def test_invalid_fault_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        Faults(**bad).validate()


def test_parse_fail_reads_the_command_line_syntax() -> None:
    assert parse_fail(["1=503", "7=drop"]) == {1: "503", 7: "drop"}
    assert set(FAULT_KINDS) >= {"drop", "truncate", "malformed", "hang", "429"}
    with pytest.raises(ValueError, match="K=KIND"):
        parse_fail(["1:503"])


async def test_cancelled_clients_do_not_leave_tasks_behind(client: Wire) -> None:
    async with Emulator(customers=10, latency=5.0) as emu:
        request = asyncio.ensure_future(client.get(emu))
        await asyncio.sleep(0.1)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        await asyncio.sleep(0.05)
        assert len(emu._sleeping) == 0, "the disconnect cancelled the sleeping handler"
