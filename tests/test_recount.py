"""A scan that knows it missed items never ends "complete": it finds them, or raises.

The server class: a sort with ties and no tiebreaker, each tie served in another
order on every request (the emulator's ``tie_block``). Offset pages then bring
some items twice and others never, under a total that never changes; the old
scan took the duplicates for drift and called 2,102 of 3,000 customers complete.
Customers can be searched by id, so the scan counts id ranges against the ids it
yielded and reads the ranges that differ; chats cannot, so their scan raises.
"""

from __future__ import annotations

import asyncio
import csv
import random
import signal
import sys
from typing import TYPE_CHECKING, Any

import pytest
from export_fixtures import SECRET_KEY, checkpoint, export_args, jsonl_records, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

import helpcrunch_async as hc
from helpcrunch_async._core.reconcile import CountRange, ReadRange
from helpcrunch_async._core.recount import RecountPlan, unexplained_missing
from helpcrunch_async.testing import Emulator, Faults, WireVariants

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator

KEY = "test-key"
DEADLINE = 20.0


def client_for(emu: Emulator, **kwargs: Any) -> hc.HelpCrunch:
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("max_backoff", 0.05)
    return hc.HelpCrunch(KEY, base_url=emu.base_url, **kwargs)


async def read_all(scan: Any) -> list[int]:
    async def run() -> list[int]:
        async with scan:
            return [item.id async for item in scan]

    return await asyncio.wait_for(run(), DEADLINE)


async def test_the_emulator_serves_each_tie_in_another_order_on_every_request() -> None:
    async with Emulator(customers=300, api_key=KEY) as emu, client_for(emu) as client:
        emu.faults.tie_block = 300
        pages = [await client.customers.list(offset=0, limit=100) for _ in range(3)]
    ids = [[c.id for c in page.data] for page in pages]
    assert len({tuple(i) for i in ids}) == 3
    assert {page.total for page in pages} == {300}
    with pytest.raises(ValueError, match="tie_block"):
        emu.configure(tie_block=1)


@pytest.mark.parametrize("sort", [None, "customers.firstSeen", "customers.lastSeen"])
async def test_a_scan_of_tied_customers_finds_every_one_it_missed(sort: hc.Sort | None) -> None:
    async with Emulator(customers=3000, seed=3, api_key=KEY) as emu, client_for(emu) as client:
        emu.faults.tie_block = 300
        scan = client.customers.iter_all(sort=sort)
        ids = await read_all(scan)
        expected = set(emu.expected_ids())
    assert len(ids) == len(set(ids)) == 3000
    assert set(ids) == expected
    stats = scan.stats
    assert stats.duplicates > 0  # the server did serve some twice in place of others
    assert stats.items == 3000
    assert stats.missing == 0
    # The listing's 30 pages, then the recount: far below reading it all again by id.
    assert stats.requests < 30 + 100


async def test_a_search_joined_by_and_finds_what_it_missed_within_its_filter() -> None:
    where = [hc.Filter("customers.id", ">", 500)]
    async with Emulator(customers=2000, seed=4, api_key=KEY) as emu, client_for(emu) as client:
        emu.faults.tie_block = 250
        ids = await read_all(client.customers.iter_search(where))
        expected = {i for i in emu.expected_ids() if i > 500}
    assert len(ids) == len(set(ids))
    assert set(ids) == expected


async def test_a_search_joined_by_or_cannot_recount_and_says_so() -> None:
    where = [hc.Filter("customers.id", ">", 0), hc.Filter("customers.email", "~", "@")]
    async with Emulator(customers=1500, api_key=KEY) as emu, client_for(emu) as client:
        emu.faults.tie_block = 300
        with pytest.raises(hc.IncompleteScanError, match="cannot be searched by id") as info:
            await read_all(client.customers.iter_search(where, comparison="OR"))
    assert info.value.missing > 0


async def test_tied_chats_cannot_be_recounted_so_the_scan_is_never_complete() -> None:
    async with Emulator(customers=50, chats=900, api_key=KEY) as emu, client_for(emu) as client:
        emu.faults.tie_block = 300
        with pytest.raises(hc.IncompleteScanError) as info:
            await read_all(client.chats.iter_all(sort="chats.createdAt"))
    assert info.value.missing > 0
    assert info.value.total == 900


async def test_a_recount_without_a_search_total_raises_instead_of_guessing() -> None:
    async with (
        Emulator(
            customers=1500, api_key=KEY, variants=WireVariants(customers_search_total="none")
        ) as emu,
        client_for(emu) as client,
    ):
        emu.faults.tie_block = 300
        with pytest.raises(hc.IncompleteScanError, match="no total"):
            await read_all(client.customers.iter_all())


async def test_a_resumed_scan_does_not_know_the_ids_before_it_so_it_raises() -> None:
    async with Emulator(customers=1500, api_key=KEY) as emu, client_for(emu) as client:
        emu.faults.tie_block = 300
        with pytest.raises(hc.IncompleteScanError):
            await read_all(client.customers.iter_all(start=100))


async def test_closing_the_client_during_the_recount_stops_it() -> None:
    async with Emulator(customers=2000, api_key=KEY, latency=0.01) as emu:
        emu.faults.tie_block = 400
        client = client_for(emu, concurrency=2)
        scan = client.customers.iter_all()
        with pytest.raises(hc.ClientClosedError):  # noqa: PT012 -- the loop is the subject
            async for _ in scan:
                # The listing's 20 pages are read: this item came from the recount.
                if scan.stats.requests > 20:
                    await client.close()
        assert scan.stats.items < 2000
        # Bytes a cancelled request had written already are read a moment later.
        await asyncio.sleep(0.05)
        settled = len(emu.log)
        await asyncio.sleep(0.2)
        assert len(emu.log) == settled


def test_an_export_of_tied_customers_is_whole_and_exits_zero(
    tmp_path: Path, helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]
) -> None:
    emulator = helpcrunch_emulator_factory(customers=3000, api_key=SECRET_KEY)
    emulator.configure(tie_block=300)
    out = tmp_path / "c.jsonl"
    done = run_cli(*export_args(out, emulator.base_url))
    assert done.returncode == 0, done.stderr
    ids = [r["id"] for r in jsonl_records(out)]
    assert len(ids) == len(set(ids)) == 3000
    assert set(ids) == set(emulator.expected_ids())
    assert checkpoint(out)["complete"] is True


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_resumed_export_of_tied_customers_knows_what_its_file_holds(
    tmp_path: Path, helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], fmt: str
) -> None:
    emulator = helpcrunch_emulator_factory(
        customers=2000, api_key=SECRET_KEY, faults=Faults(data_stops_at=700)
    )
    out = tmp_path / f"c.{fmt}"
    first = run_cli(*export_args(out, emulator.base_url))
    assert first.returncode == 4, first.stderr  # the data stopped short: resumable
    emulator.configure(data_stops_at=None, tie_block=400)
    again = run_cli(*export_args(out, emulator.base_url, "--resume"))
    assert again.returncode == 0, again.stderr
    if fmt == "jsonl":
        ids = [r["id"] for r in jsonl_records(out)]
    else:
        with out.open(encoding="utf-8", newline="") as file:
            ids = [int(row["id"]) for row in csv.DictReader(file)]
    assert len(ids) == len(set(ids)) == 2000
    assert set(ids) == set(emulator.expected_ids())


def test_an_export_of_tied_chats_is_not_called_complete(
    tmp_path: Path, helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]
) -> None:
    emulator = helpcrunch_emulator_factory(customers=20, chats=600, api_key=SECRET_KEY)
    emulator.configure(tie_block=200)
    out = tmp_path / "chats.jsonl"
    done = run_cli(*export_args(out, emulator.base_url, kind="chats"))
    assert done.returncode == 4, done.stderr  # the exit code of an API error, resumable
    assert "complete:" not in done.stderr
    assert checkpoint(out)["complete"] is False


# -- the pure rules -------------------------------------------------------------------


def test_duplicates_under_a_total_that_did_not_grow_are_missing_items() -> None:
    seen = {"total": 3000, "start": 0, "yielded": 2661, "duplicates": 339}
    assert unexplained_missing(**seen, first_total=3000, largest_total=3000) == 339
    # Inserts behind the scan: each brought one duplicate and is the next run's.
    grown = {"total": 2150, "start": 0, "yielded": 2000, "duplicates": 150}
    assert unexplained_missing(**grown, first_total=2000, largest_total=2150) == 0
    assert unexplained_missing(**grown, first_total=2100, largest_total=2150) == 100
    none = unexplained_missing(
        total=None, start=0, yielded=5, duplicates=5, first_total=None, largest_total=None
    )
    assert none == 0


def serve(plan: RecountPlan[int], server: list[int], rng: random.Random) -> tuple[int, list[int]]:
    """Answer the plan from ``server`` (sorted ids) in a random order; return requests, finds."""
    requests = 0
    found: list[int] = []
    while not plan.done:
        asks = []
        while (ask := plan.next_fetch()) is not None:
            asks.append(ask)
        rng.shuffle(asks)
        for ask in asks:
            requests += 1
            inside = [i for i in server if ask.lo <= i < ask.hi]
            page = inside[: plan.limit(ask)]
            rng.shuffle(page)
            plan.page_done(ask, page, len(inside))
        while (released := plan.release()) is not None:
            found.extend(released)
    return requests, found


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(0, 3000),
    missed=st.integers(0, 60),
    deleted=st.integers(0, 20),
    seed=st.integers(0, 2**32),
)
def test_the_recount_finds_every_missed_id_and_nothing_else(
    size: int, missed: int, deleted: int, seed: int
) -> None:
    rng = random.Random(seed)
    server = sorted(rng.sample(range(1, 4 * size + 10), size))
    lost = set(rng.sample(server, min(missed, size)))
    yielded = [i for i in server if i not in lost]
    gone = set(rng.sample(yielded, min(deleted, len(yielded))))
    now = [i for i in server if i not in gone]
    plan: RecountPlan[int] = RecountPlan(yielded, key=int, page_size=100)
    requests, found = serve(plan, now, rng)
    assert len(found) == len(set(found))
    assert set(found) <= lost
    # The one blind spot (DeletionPlan's): a yielded id deleted meanwhile and a
    # missed one in the same range cancel in the counts.
    assert len(found) >= len(lost) - len(gone)
    if not gone:
        assert set(found) == lost
    assert plan.total == len(now)
    assert plan.gone <= len(gone)
    # Rule 1's cost: the count of the whole span, then about log2(N/100)+2 per miss.
    depth = max(1, (size // 100).bit_length()) + 2
    assert requests <= 1 + (len(lost) + len(gone)) * (depth + 66)


def test_the_recount_costs_a_few_requests_per_miss_in_a_large_listing() -> None:
    rng = random.Random(7)
    server = list(range(1, 100_001))
    lost = set(rng.sample(server, 10))
    plan: RecountPlan[int] = RecountPlan(
        [i for i in server if i not in lost], key=int, page_size=100
    )
    requests, found = serve(plan, server, rng)
    assert sorted(found) == sorted(lost)
    assert requests <= 1 + 10 * (10 + 2)  # 2**10 pages of 100 hold 100,000


def test_a_page_without_a_total_ends_the_recount_uncounted() -> None:
    plan: RecountPlan[int] = RecountPlan([1, 2, 3], key=int, page_size=100)
    ask = plan.next_fetch()
    assert isinstance(ask, CountRange)
    plan.page_done(ask, [], None)
    assert plan.uncountable == "the search sent no total"
    assert plan.done
    assert plan.next_fetch() is None


def test_a_range_read_empty_where_its_count_says_more_ends_the_recount_uncounted() -> None:
    plan: RecountPlan[int] = RecountPlan([5, 6], key=int, page_size=100)
    count = plan.next_fetch()
    assert isinstance(count, CountRange)
    plan.page_done(count, [], 5)  # three more than yielded: one page reads them
    read = plan.next_fetch()
    assert isinstance(read, ReadRange)
    plan.page_done(read, [], 5)
    assert plan.uncountable is not None
    assert "serves none" in plan.uncountable
    assert plan.done


async def test_the_emulator_command_plays_a_sort_without_a_tiebreaker() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "helpcrunch_async.testing", "--port", "0",
        "--customers", "300", "--api-key", KEY, "--tie-block", "300",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        base_url = line.removeprefix("listening on ").strip()
        async with hc.HelpCrunch(KEY, base_url=base_url) as client:
            pages = [await client.customers.list(offset=0, limit=100) for _ in range(3)]
        assert len({tuple(c.id for c in page.data) for page in pages}) == 3
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
