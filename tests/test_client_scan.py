"""iter_all against the emulator: order, bounds, faults, drift and stopping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
import pytest
from page_servers import Listing, PageServer, page_fetcher

import helpcrunch_async as hc
from helpcrunch_async.testing import Drift, Emulator, Faults, RateLimit

KEY = "test-key"


def client_for(emu: Emulator, **kwargs: Any) -> hc.HelpCrunch:
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("max_backoff", 0.05)
    return hc.HelpCrunch(KEY, base_url=emu.base_url, **kwargs)


def client_tasks() -> list[asyncio.Task[Any]]:
    """Tasks still running besides the test's own, the emulator's connection handlers aside.

    An idle keep-alive connection in the client's pool keeps a server handler
    waiting for its next request; that is the pool, not a request still running.
    A request the client abandoned may still be answered by the emulator (its
    handler waits out the latency): that is the server's task, not the client's.
    Every request the client sends is sent by a task: with none left, none can
    be sent later, which is exact where counting the log after a sleep is not.
    """
    return [
        task
        for task in asyncio.all_tasks()
        if task is not asyncio.current_task()
        and task.get_coro().__qualname__  # type: ignore[union-attr]
        not in {"RequestHandler.start", "RequestHandler._handle_request"}
    ]


async def scan_ids(client: hc.HelpCrunch, **kwargs: Any) -> tuple[list[int], hc.ScanStats]:
    async with client.customers.iter_all(**kwargs) as scan:
        ids = [c.id async for c in scan]
    return ids, scan.stats


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        (None, "asc"),
        ("customers.firstSeen", "asc"),
        ("customers.firstSeen", "desc"),
        ("customers.lastSeen", "asc"),
        ("customers.lastSeen", "desc"),
    ],
)
async def test_every_customer_once_in_server_order(sort: str | None, order: str) -> None:
    async with Emulator(customers=1234, seed=5, api_key=KEY) as emu, client_for(emu) as client:
        ids, stats = await scan_ids(client, sort=sort, order=order)
        assert ids == emu.expected_ids(sort, order)
    assert stats.items == 1234
    assert stats.requests == 13
    assert stats.total_at_start == stats.total_at_end == 1234
    assert not stats.total_changed
    assert stats.duplicates == 0


async def test_an_empty_account_and_an_exact_fit() -> None:
    async with Emulator(customers=0, api_key=KEY) as emu, client_for(emu) as client:
        ids, stats = await scan_ids(client)
    assert ids == []
    # The first window goes alone: an account of one page or less costs one request.
    assert stats.requests == 1
    async with Emulator(customers=300, api_key=KEY) as emu, client_for(emu) as client:
        ids, stats = await scan_ids(client)
    assert len(ids) == 300
    assert stats.requests == 3


async def test_first_customers_come_before_the_rest_is_fetched() -> None:
    async with (
        Emulator(customers=3000, api_key=KEY, latency=0.05) as emu,
        client_for(emu, concurrency=4) as client,
        client.customers.iter_all() as scan,
    ):
        first = await anext(scan)
        assert first.id == emu.expected_ids(None, "asc")[0]
        # Only the first page and the first concurrent round can have been asked for.
        assert len(emu.log) <= 1 + 4
        rest = [c.id async for c in scan]
    assert len(rest) == 2999


async def test_a_slow_consumer_slows_fetching_instead_of_filling_memory() -> None:
    async with (
        Emulator(customers=10_000, api_key=KEY) as emu,
        client_for(emu, concurrency=3) as client,
        client.customers.iter_all() as scan,
    ):
        await anext(scan)
        # The scan fetches in tasks of its own; once none is left, nothing asks
        # for more until the consumer takes the next item.
        async with asyncio.timeout(10):
            while client_tasks():  # noqa: ASYNC110 -- no event says a scan's tasks are done
                await asyncio.sleep(0)
        # The first page plus the lookahead of twice the concurrency, no more.
        assert len(emu.log) <= 1 + 2 * 3
        count = 1 + len([c async for c in scan])
    assert count == 10_000


@pytest.mark.parametrize("hanging", [3, 4])
async def test_a_slow_head_page_does_not_stall_the_other_workers(hanging: int) -> None:
    # One request hangs until it times out: the first window after the
    # second (which asked whether the server takes bursts: rule 6 of the
    # cap; while such a probe hangs, sends go one paced interval apart), or
    # the one after it.
    async with (
        Emulator(customers=5000, api_key=KEY, faults=Faults(fail={hanging: "hang"})) as emu,
        client_for(emu, concurrency=4, timeout=1.5) as client,
        client.customers.iter_all() as scan,
    ):
        await anext(scan)
        # While the head window hangs, the others fill the lookahead: seven
        # requests arrive before the hanging one is sent again.
        async with asyncio.timeout(10):
            while len(emu.log) < 1 + 2 * 4 - 1:  # noqa: ASYNC110 -- the log signals nothing
                await asyncio.sleep(0)
        queries = [entry.query for entry in emu.log[: 1 + 2 * 4 - 1]]
        assert queries.count(emu.log[hanging - 1].query) == 1
        ids = [c.id async for c in scan]
        assert [emu.expected_ids(None, "asc")[0], *ids] == emu.expected_ids(None, "asc")
    assert scan.stats.retries >= 1


@pytest.mark.parametrize("retry_after", [True, False])
async def test_a_no_burst_server_costs_one_429_not_one_per_worker(retry_after: bool) -> None:
    # nginx limit_req without burst: a request sooner than W/R after the last
    # accepted one is refused. The opening's pair meets it once; the budget
    # then paces, and the burst that follows is never refused.
    async with (
        Emulator(
            customers=1200,
            api_key=KEY,
            rate=RateLimit(policy="no-burst", limit=5, period=1.0, retry_after=retry_after),
        ) as emu,
        client_for(emu, rate_limit=5, rate_period=1.0, concurrency=8) as client,
    ):
        ids, stats = await scan_ids(client)
        assert ids == emu.expected_ids(None, "asc")
        refused = [e for e in emu.log if e.status == 429]
    assert len(refused) == 1
    assert stats.rate_limited == 1


@pytest.mark.parametrize("kind", ["500", "502", "503", "504", "drop", "truncate", "malformed"])
async def test_faults_are_retried_and_nothing_is_lost(kind: str) -> None:
    async with (
        Emulator(
            customers=800, api_key=KEY, faults=Faults(fail={1: kind, 3: kind, 4: kind})
        ) as emu,
        client_for(emu) as client,
    ):
        ids, stats = await scan_ids(client)
        assert ids == emu.expected_ids(None, "asc")
    assert stats.retries == 3
    assert stats.requests == 8 + 3


async def test_random_faults_under_load() -> None:
    async with (
        Emulator(
            customers=3000, api_key=KEY, fault_seed=7, faults=Faults(error_rate=0.1, drop_rate=0.05)
        ) as emu,
        client_for(emu, max_retries=8) as client,
    ):
        ids, stats = await scan_ids(client)
        assert ids == emu.expected_ids(None, "asc")
    assert stats.retries > 0


async def test_spent_retries_end_the_scan_and_nothing_keeps_running() -> None:
    async with (
        Emulator(customers=2000, api_key=KEY, latency=0.02) as emu,
        client_for(emu, max_retries=2) as client,
    ):
        emu.faults.error_rate = 1.0
        with pytest.raises(hc.ServerError) as info:
            await scan_ids(client)
        assert info.value.status in (500, 502, 503)
        assert client_tasks() == []
    assert client_tasks() == []


@pytest.mark.parametrize(("kind", "error"), [("400", hc.BadRequestError), ("404", hc.APIError)])
async def test_client_errors_are_never_retried(kind: str, error: type[hc.APIError]) -> None:
    async with (
        Emulator(customers=500, api_key=KEY, faults=Faults(fail={3: kind})) as emu,
        client_for(emu) as c,
    ):
        with pytest.raises(error):
            await scan_ids(c)
        assert sum(1 for e in emu.log if e.status == int(kind)) == 1


async def test_inserts_mid_scan_are_dropped_as_duplicates_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="helpcrunch_async")
    async with (
        Emulator(customers=2000, api_key=KEY, drift=[Drift(after_request=3, insert=150)]) as emu,
        client_for(emu, concurrency=2) as client,
    ):
        ids, stats = await scan_ids(client, sort="customers.firstSeen")
    assert len(ids) == len(set(ids))
    assert stats.total_at_start == 2000
    assert stats.total_at_end == 2150
    assert stats.total_changed
    assert stats.duplicates > 0
    assert "total changed" in caplog.text


async def test_deletes_mid_scan_are_reported() -> None:
    async with (
        Emulator(customers=2000, api_key=KEY, drift=[Drift(after_request=3, delete=120)]) as emu,
        client_for(emu, concurrency=2) as client,
    ):
        ids, stats = await scan_ids(client, sort="customers.firstSeen")
    assert len(ids) == len(set(ids))
    assert stats.total_at_end == 1880
    assert stats.total_changed


@pytest.mark.parametrize(("inserted", "deleted"), [(0, 60), (60, 0)])
@pytest.mark.parametrize("after", [2, 3, 5])
async def test_customers_that_stay_are_never_lost_to_a_shift(
    inserted: int, deleted: int, after: int
) -> None:
    # Customers vanish from, or appear at, the front of the order mid-scan: the
    # windows shift under the scan, and the repair windows catch what slid past.
    async with (
        Emulator(
            customers=1500,
            api_key=KEY,
            latency=0.01,
            drift=[Drift(after_request=after, insert=inserted, delete=deleted)],
        ) as emu,
        client_for(emu, concurrency=4) as client,
    ):
        before = set(emu.expected_ids("customers.firstSeen", "asc"))
        ids, stats = await scan_ids(client, sort="customers.firstSeen")
        after_ids = emu.expected_ids("customers.firstSeen", "asc")
    assert len(ids) == len(set(ids))
    stayed = [i for i in after_ids if i in before]
    got = set(ids)
    assert [i for i in stayed if i not in got] == []
    assert stats.total_changed


async def test_growth_past_the_planned_end_is_fetched() -> None:
    async with (
        Emulator(
            customers=1000, api_key=KEY, drift=[Drift(after_request=2, insert=250, position="end")]
        ) as emu,
        client_for(emu, concurrency=2) as client,
    ):
        ids, stats = await scan_ids(client)
        assert ids == emu.expected_ids(None, "asc")
    assert stats.total_at_end == 1250


async def test_break_inside_async_with_stops_every_request() -> None:
    async with (
        Emulator(customers=20_000, api_key=KEY, latency=0.2) as emu,
        client_for(emu, concurrency=8) as client,
    ):
        async with client.customers.iter_all() as scan:
            async for _ in scan:
                break
        assert client_tasks() == []


async def test_cancelling_the_consumer_task_stops_every_request() -> None:
    async with (
        Emulator(customers=20_000, api_key=KEY, latency=0.2) as emu,
        client_for(emu, concurrency=8) as client,
    ):

        async def consume() -> None:
            async for _ in client.customers.iter_all():
                await asyncio.sleep(0)

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert client_tasks() == []


async def test_closing_the_client_closes_its_scans() -> None:
    async with Emulator(customers=20_000, api_key=KEY, latency=0.2) as emu:
        client = client_for(emu)
        scan = client.customers.iter_all()
        await anext(scan)
        await client.close()
        assert client_tasks() == []
        # Cut short, not ended: a consumer must not take it as complete.
        with pytest.raises(hc.ClientClosedError):
            await anext(scan)


async def test_aclose_then_iterating_again_ends_at_once() -> None:
    async with Emulator(customers=500, api_key=KEY) as emu, client_for(emu) as client:
        scan = client.customers.iter_all()
        await anext(scan)
        await scan.aclose()
        await scan.aclose()
        assert [c async for c in scan] == []


async def test_retries_and_pauses_are_logged_with_their_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="helpcrunch_async")
    async with (
        Emulator(customers=600, api_key=KEY, faults=Faults(fail={2: "503", 4: "429"})) as emu,
        client_for(emu) as client,
    ):
        await scan_ids(client)
    assert "retrying GET /v1/customers" in caplog.text
    assert "503" in caplog.text
    assert "429" in caplog.text
    assert "pause" in caplog.text


async def scan_listing(
    listing: Listing, *, page_size: int = 100, concurrency: int = 4
) -> tuple[list[int], hc.Scan[int], list[tuple[int, int]]]:
    """Scan one tiny server's listing with the generic scan; return ids, scan, requests."""
    async with PageServer({"/v1/items": listing}) as server, aiohttp.ClientSession() as session:
        fetch = page_fetcher(session, server.base_url + "/items", list_key=listing.list_key)
        async with hc.Scan(fetch, key=int, page_size=page_size, concurrency=concurrency) as scan:
            ids = [i async for i in scan]
    return ids, scan, server.requests_to("/v1/items")


@pytest.mark.parametrize("rows", [0, 1, 99, 100, 101, 250, 300])
async def test_a_listing_without_total_is_paged_until_a_short_page(rows: int) -> None:
    # The old agents and departments pages carry no total at all.
    ids, scan, requests = await scan_listing(
        Listing(list(range(1, rows + 1)), total=lambda _: None)
    )
    assert ids == list(range(1, rows + 1))
    assert scan.stats.items == rows
    assert scan.stats.total_at_start is None
    # Every window up to the first short one (an empty one when the last is
    # full), and after a short page the rest of its window, which tells its
    # end from a page cap.
    expected = set(range(0, (rows // 100) * 100 + 1, 100))
    if rows % 100:
        expected.add(rows)
    assert sorted(offset for offset, _ in requests) == sorted(expected)


@pytest.mark.parametrize(("list_key", "total_key"), [("data", "meta"), ("messages", "total")])
async def test_a_generic_scan_reads_each_documented_page_shape(
    list_key: str, total_key: str
) -> None:
    ids, scan, requests = await scan_listing(
        Listing(list(range(500, 0, -2)), list_key=list_key, total_key=total_key), page_size=30
    )
    assert ids == list(range(500, 0, -2))
    assert scan.stats.total_at_start == scan.stats.total_at_end == 250
    assert len(requests) == 9
    assert "<Scan closed items=250" in repr(scan)


async def test_customers_iter_all_is_a_generic_scan() -> None:
    async with Emulator(customers=10, api_key=KEY) as emu, client_for(emu) as client:
        scan = client.customers.iter_all()
        assert isinstance(scan, hc.CustomerScan)
        assert isinstance(scan, hc.Scan)
        await scan.aclose()


@pytest.mark.parametrize("customers", [0, 50, 300, 1234])
async def test_pages_are_the_answers_read_never_more_than_requests(customers: int) -> None:
    # The summary once said "300 requests, 301 pages": the scan's last release
    # (nothing more to hand out) was counted as a page.
    async with Emulator(customers=customers, api_key=KEY) as emu, client_for(emu) as client:
        ids, stats = await scan_ids(client)
        assert stats.pages == stats.requests == len(emu.log)
    assert len(ids) == customers


async def test_pages_leave_out_the_retries_that_requests_count() -> None:
    async with (
        Emulator(customers=800, api_key=KEY, faults=Faults(fail={2: "503", 5: "drop"})) as emu,
        client_for(emu) as client,
    ):
        _, stats = await scan_ids(client)
    assert stats.retries == 2
    assert stats.pages == stats.requests - 2
