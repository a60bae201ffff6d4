"""A scan never passes a partial result off as complete.

Against the emulator's hostile knobs (a page cap, data that stops short of the
total, a made-up total) and tiny servers for the other page shapes: short pages
are filled, data that stops short ends the scan with `IncompleteScanError`, a
made-up total costs a bounded number of requests, and a total that shrinks
mid-scan costs no request per vanished page.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web
from export_fixtures import SECRET_KEY, checkpoint, export_args, jsonl_records, run_cli
from page_servers import Listing, PageServer, page_fetcher
from scan_reads import drain, until_error

import helpcrunch_async as hc
from helpcrunch_async.testing import Account, Emulator, Faults, WireVariants

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator

KEY = "test-key"
# The old scan fetched empty pages for ever under a made-up total: bound every test.
DEADLINE = 10.0


def client_for(emu: Emulator, **kwargs: Any) -> hc.HelpCrunch:
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("max_backoff", 0.05)
    return hc.HelpCrunch(KEY, base_url=emu.base_url, **kwargs)


async def collect(scan: hc.Scan[Any], into: list[int] | None = None) -> list[int]:
    """Every id the scan yields (also appended to ``into``), within the deadline."""
    ids = [] if into is None else into

    async def run() -> list[int]:
        async with scan:
            async for item in scan:
                ids.append(item if isinstance(item, int) else item.id)
        return ids

    return await asyncio.wait_for(run(), DEADLINE)


async def test_short_pages_are_filled_and_the_served_size_is_learned() -> None:
    # The server serves at most 50 a page, whatever limit asks, while its
    # total says 3,000: the old scan yielded 1,500 and called it complete.
    async with (
        Emulator(customers=3000, api_key=KEY, faults=Faults(page_cap=50)) as emu,
        client_for(emu, concurrency=4) as client,
    ):
        scan = client.customers.iter_all()
        ids = await collect(scan)
        assert ids == emu.expected_ids(None, "asc")
    assert scan.page_size == 50
    # The opening pair and their two fills, then 56 windows of the size served.
    assert scan.stats.requests == 2 + 2 + 56
    assert scan.stats.missing == 0


async def test_data_that_stops_short_of_the_total_is_an_error_not_an_end() -> None:
    # Nothing past offset 1,500 while the total says 3,000.
    async with (
        Emulator(customers=3000, api_key=KEY, faults=Faults(data_stops_at=1500)) as emu,
        client_for(emu, concurrency=4) as client,
    ):
        scan = client.customers.iter_all()
        ids: list[int] = []
        with pytest.raises(hc.IncompleteScanError) as info:
            await collect(scan, into=ids)
        assert ids == emu.expected_ids(None, "asc")[:1500]
    error = info.value
    assert (error.missing, error.at_offset, error.total) == (1500, 1500, 3000)
    assert "1500 customers are missing" in str(error)
    # Fifteen pages, at most a lookahead of empty ones, and the one probe.
    assert scan.stats.requests <= 15 + 2 * 4 + 1


async def test_a_made_up_total_costs_a_bounded_number_of_requests() -> None:
    async with (
        Emulator(customers=50, api_key=KEY, faults=Faults(fake_total=10**12)) as emu,
        client_for(emu, concurrency=8) as client,
    ):
        scan = client.customers.iter_all()
        with pytest.raises(hc.IncompleteScanError) as info:
            await collect(scan)
        await asyncio.sleep(0.05)
        served = len(emu.log)
    assert info.value.at_offset == 50
    assert info.value.missing == 10**12 - 50
    # The opening pair, a fill, the lookahead's empty windows and one probe.
    assert served <= 2 + 1 + 2 * 8 + 1
    assert scan.stats.items == 50


async def test_a_total_that_shrinks_mid_scan_costs_no_request_per_vanished_page() -> None:
    # 2,000 rows at the end vanish after the third request: 20 pages fewer.
    def shrink(listing: Listing, offset: int, limit: int) -> None:
        del offset, limit
        shrink.calls += 1  # type: ignore[attr-defined]
        if shrink.calls == 3:  # type: ignore[attr-defined]
            del listing.rows[1000:]

    shrink.calls = 0  # type: ignore[attr-defined]
    listing = Listing(list(range(1, 3001)), on_request=shrink, latency=0.01)
    async with PageServer({"/v1/items": listing}) as server, aiohttp.ClientSession() as session:
        scan = hc.Scan(
            page_fetcher(session, server.base_url + "/items"),
            key=int,
            page_size=100,
            concurrency=4,
        )
        ids = await collect(scan)
        requests = server.requests_to("/v1/items")
    assert ids == list(range(1, 1001))
    # Ten pages of data, and at most the windows already in flight past them.
    assert len(requests) <= 10 + 2 * 4
    assert scan.stats.total_at_end == 1000


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        # A chats-like page (meta.total) that stops at 250 of 600.
        ({"total_key": "meta", "served_until": 250}, (350, 250)),
        # A messages-like page (key "messages") served 30 at a time.
        ({"list_key": "messages", "max_page": 30}, None),
    ],
)
async def test_every_page_shape_is_filled_or_fails_the_same_way(
    shape: dict[str, Any], expected: tuple[int, int] | None
) -> None:
    listing = Listing(list(range(1000, 1600)), **shape)
    async with PageServer({"/v1/items": listing}) as server, aiohttp.ClientSession() as session:
        scan = hc.Scan(
            page_fetcher(session, server.base_url + "/items", list_key=listing.list_key),
            key=int,
            page_size=100,
            concurrency=3,
            noun="chats",
        )
        if expected is None:
            assert await collect(scan) == list(range(1000, 1600))
            return
        with pytest.raises(hc.IncompleteScanError) as info:
            await collect(scan)
    assert (info.value.missing, info.value.at_offset) == expected
    assert "350 chats are missing" in str(info.value)


async def test_a_server_that_repeats_a_page_is_an_error() -> None:
    # Past offset 300 the server ignores the offset and serves its last page again.
    class Repeating(Listing):
        def page(self, offset: int, limit: int) -> dict[str, Any]:
            return super().page(min(offset, 300), limit)

    listing = Repeating(list(range(1, 401)), total=lambda _: 10**6)
    async with PageServer({"/v1/items": listing}) as server, aiohttp.ClientSession() as session:
        scan = hc.Scan(
            page_fetcher(session, server.base_url + "/items"), key=int, page_size=100, concurrency=2
        )
        with pytest.raises(hc.IncompleteScanError, match="already yielded"):
            await collect(scan)
        assert len(server.requests_to("/v1/items")) < 20


async def test_a_list_without_total_that_ignores_the_offset_is_read_once() -> None:
    # The old agents endpoint: no total, no paging; it serves all 150 every time.
    class Everything(Listing):
        def page(self, offset: int, limit: int) -> dict[str, Any]:
            del offset, limit
            return super().page(0, len(self.rows))

    listing = Everything(list(range(1, 151)), total=lambda _: None)
    async with PageServer({"/v1/items": listing}) as server, aiohttp.ClientSession() as session:
        scan = hc.Scan(
            page_fetcher(session, server.base_url + "/items"), key=int, page_size=100, concurrency=2
        )
        assert await collect(scan) == list(range(1, 151))
        assert len(server.requests_to("/v1/items")) <= 3


def test_an_export_that_stops_short_exits_non_zero_and_resumes(
    tmp_path: Path, helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]
) -> None:
    emulator = helpcrunch_emulator_factory(
        customers=600, api_key=SECRET_KEY, faults=Faults(data_stops_at=250)
    )
    out = tmp_path / "c.jsonl"
    done = run_cli(*export_args(out, emulator.base_url, "--sort", "customers.firstSeen"))
    assert done.returncode != 0, done.stderr
    assert "missing" in done.stderr
    assert "--resume" in done.stderr
    saved = checkpoint(out)
    assert saved["complete"] is False
    assert saved["records"] == len(jsonl_records(out)) == 250

    emulator.configure(data_stops_at=None)
    again = run_cli(
        *export_args(out, emulator.base_url, "--sort", "customers.firstSeen", "--resume")
    )
    assert again.returncode == 0, again.stderr
    ids = [r["id"] for r in jsonl_records(out)]
    assert ids == emulator.expected_ids("customers.firstSeen", "asc")


# --- listings without a count, a server that ignores the offset, the noun of the error ---

NO_COUNT = {
    "agents": lambda c: c.agents.iter_all(),
    "departments": lambda c: c.departments.iter_all(),
    "customers.iter_search": lambda c: c.customers.iter_search(
        [hc.Filter("customers.id", ">=", 1)]
    ),
    "chats.iter_search": lambda c: c.chats.iter_search([hc.Filter("chats.createdAt", ">=", 1)]),
}


@pytest.mark.parametrize("scan_of", NO_COUNT.values(), ids=NO_COUNT.keys())
async def test_a_capped_listing_without_a_count_is_read_whole(
    scan_of: Callable[[hc.HelpCrunch], Any],
) -> None:
    # The old agents and departments pages carry no count; a server serving
    # 10 a page took the first short page for the end: 10 of 25, "complete".
    async with (
        Emulator(
            customers=25,
            chats=25,
            api_key=KEY,
            account=Account(agents=25, departments=25),
            faults=Faults(page_cap=10),
            variants=WireVariants(
                list_total="none", customers_search_total="none", chats_search_total="none"
            ),
        ) as emu,
        hc.HelpCrunch(KEY, base_url=emu.base_url) as client,
    ):
        items = await drain(scan_of(client))
    assert len(items) == 25
    assert len({item.id for item in items}) == 25


@contextlib.asynccontextmanager
async def first_page_again(total: int) -> AsyncIterator[str]:
    """A messages endpoint that ignores ``offset``: the newest page, whatever is asked."""

    async def handle(request: web.Request) -> web.Response:
        chat = int(request.match_info["id"])
        limit = int(request.query.get("limit", "100"))
        ids = range(chat * 1000 + total, chat * 1000, -1)
        data = [{"id": i, "chat": chat} for i in ids[:limit]]
        return web.json_response({"data": data, "total": total})

    app = web.Application()
    app.router.add_get("/v1/chats/{id}/messages", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    finally:
        await runner.cleanup()


async def test_a_server_that_ignores_the_offset_of_a_short_listing_is_an_error() -> None:
    # Three pages of messages, the second and third the first again: 100 of
    # 300, "complete", since the 200 duplicates "explained" the 200 missing.
    async with first_page_again(300) as url, hc.HelpCrunch(KEY, base_url=url) as client:
        got, error = await until_error(client.chats.iter_messages(1))
        assert isinstance(error, hc.IncompleteScanError)
        assert "messages already yielded" in str(error)
        assert len(got) == 100
        got, error = await until_error(client.chats.iter_messages_of([1, 2]))
        assert isinstance(error, hc.IncompleteScanError)
        assert str(error).startswith("1: the server served messages already yielded")
        assert len(got) == 100


async def test_errors_name_what_the_scan_reads() -> None:
    # Every scan but the customers' said "items are missing".
    async with (
        Emulator(
            customers=5,
            chats=30,
            api_key=KEY,
            account=Account(agents=30, departments=12),
            faults=Faults(data_stops_at=7),
        ) as emu,
        hc.HelpCrunch(KEY, base_url=emu.base_url) as client,
    ):
        for scan, noun in [
            (client.chats.iter_all(), "chats"),
            (client.chats.iter_search([hc.Filter("chats.createdAt", ">=", 1)]), "chats"),
            (client.agents.iter_all(), "agents"),
            (client.departments.iter_all(page_size=1), "departments"),
        ]:
            _, error = await until_error(scan)
            assert isinstance(error, hc.IncompleteScanError)
            assert f"{noun} are missing" in str(error)
