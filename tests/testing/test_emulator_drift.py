from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from emulator_wire import Wire, wire
from manual_clock import ManualClock

from helpcrunch_async.testing import Account, Drift, Emulator
from helpcrunch_async.testing._faults import parse_drift

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def client() -> AsyncIterator[Wire]:
    async with wire() as opened:
        yield opened


async def naive_scan(client: Wire, emu: Emulator, **params: str) -> tuple[list[int], list[int]]:
    """Page by offset until past the latest total; return (ids seen, totals seen)."""
    seen: list[int] = []
    totals: list[int] = []
    offset = 0
    while not totals or offset < totals[-1]:
        reply = await client.get(emu, offset=offset, **params)
        page = reply.json()
        totals.append(page["total"])
        seen += [c["id"] for c in page["data"]]
        offset += 100
    return seen, totals


async def test_inserts_after_a_request_shift_offsets_right(client: Wire) -> None:
    async with Emulator(customers=1000, drift=[Drift(after_request=2, insert=150)]) as emu:
        before = emu.expected_ids()
        seen, totals = await naive_scan(client, emu)
        assert totals[:3] == [1000, 1000, 1150]
        assert emu.total == 1150
        inserted = set(emu.expected_ids()) - set(before)
    assert len(inserted) == 150
    assert set(seen) == set(before), "the inserts landed before the scan position"
    assert len(seen) - len(set(seen)) == 150, "a naive client sees the shift as duplicates"


async def test_deletes_after_a_request_shift_offsets_left(client: Wire) -> None:
    drift = [Drift(after_request=1, delete=30)]
    async with Emulator(customers=1000, drift=drift) as emu:
        before = emu.expected_ids("customers.firstSeen", "desc")
        seen, totals = await naive_scan(client, emu, sort="customers.firstSeen", order="desc")
        live = emu.expected_ids("customers.firstSeen", "desc")
    assert totals[:2] == [1000, 970]
    assert live == before[30:], "deleted from the start of the order being scanned"
    assert set(live) - set(seen) == set(before[100:130]), "a naive client misses 30"


async def test_a_timed_drift_applies_without_requests() -> None:
    clock = ManualClock()
    drift = [Drift(at=0.1, delete=40, insert=5)]
    async with Emulator(customers=200, drift=drift, monotonic=clock, sleep=clock.sleep) as emu:
        before = emu.expected_ids()
        async with asyncio.timeout(5):  # the clock never moves by itself: bound the wait
            # The drift waits for its time on the server's clock, counted from the start.
            await clock.until_sleeping(1)
        assert clock.sleeping == [1000.1]
        clock.advance(0.09)
        await asyncio.sleep(0)
        assert emu.expected_ids() == before, "not before its time"
        clock.advance(0.01)
        async with asyncio.timeout(5):
            while emu.expected_ids() == before:  # noqa: ASYNC110 -- the drift signals nothing
                await asyncio.sleep(0)
        after = emu.expected_ids()
    assert len(after) == 165
    assert after[5:] == before[40:]


async def test_runtime_inserts_follow_the_latest_order(client: Wire) -> None:
    async with Emulator(customers=300) as emu:
        await client.get(emu, sort="customers.lastSeen", order="desc")
        new = emu.insert(3)
        first = await client.ids(emu, sort="customers.lastSeen", order="desc", limit=3)
        assert set(first) == set(new)
        at_end = emu.insert(2, "end")
        last = emu.expected_ids("customers.lastSeen", "desc")[-2:]
        assert set(last) == set(at_end)
        scattered = emu.insert(20, "random")
        assert set(scattered) <= set(emu.expected_ids())
        assert emu.total == 325


async def test_deleted_customers_vanish_everywhere(client: Wire) -> None:
    async with Emulator(customers=300) as emu:
        victim = emu.expected_ids()[10]
        assert emu.delete(ids=[victim]) == [victim]
        assert (await client.get(emu, f"/customers/{victim}")).status == 404
        assert victim not in await client.ids(emu, limit=50)
        assert (await client.get(emu)).json()["total"] == 299
        tail = emu.expected_ids()[-5:]
        assert emu.delete(5, "end") == tail
        assert set(tail).isdisjoint(emu.expected_ids())


async def test_inserted_customers_are_served_and_paged(client: Wire) -> None:
    async with Emulator(customers=50, account=Account(timestamps_as_strings=True)) as emu:
        (new,) = emu.insert(1, "start")
        single = await client.get(emu, f"/customers/{new}")
        assert single.status == 200
        assert single.body == emu.customer_json(new)
        assert (await client.ids(emu, limit=1)) == [new]


def test_drift_specs_are_checked() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Drift(insert=1)
    with pytest.raises(ValueError, match="exactly one"):
        Drift(after_request=1, at=1.0)
    with pytest.raises(ValueError, match="position"):
        Drift(after_request=1, position="middle")
    with pytest.raises(ValueError, match=">= 0"):
        Drift(after_request=1, insert=-1)
    assert parse_drift("after=3,insert=150") == Drift(after_request=3, insert=150)
    assert parse_drift("at=0.5, delete=40, position=end") == Drift(
        at=0.5, delete=40, position="end"
    )
    with pytest.raises(ValueError, match="unknown drift fields"):
        parse_drift("after=1,colour=red")
