"""The fan-out over loopback: many chats' messages in one ordered stream.

A tiny server serves ``/v1/chats/{id}/messages`` for many chats, lazily; the
fan-out reads them through a plain page fetcher, so its own order, cost,
bounds, 404 handling and cancellation are what is under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from page_servers import Listing, PageServer, listing_fetcher

import helpcrunch_async as hc
from helpcrunch_async._shell.fanout import FanOutScan
from helpcrunch_async.testing import Account

if TYPE_CHECKING:
    from collections.abc import Callable

PATH = "/v1/chats/{}/messages"


def message_ids(chat: int, count: int) -> list[int]:
    """The ids of a chat's messages, newest first: unique across chats."""
    return [chat * 10_000 + count - i for i in range(count)]


class Chats(Mapping[str, Listing]):
    """Every chat's messages, made when asked for: ``sizes`` by chat id; None is gone."""

    def __init__(self, sizes: Callable[[int], int | None], **listing: Any) -> None:
        self._sizes = sizes
        self._listing = listing

    def __getitem__(self, path: str) -> Listing:
        parts = path.split("/")
        if len(parts) != 5 or parts[2] != "chats" or not parts[3].isdigit():
            raise KeyError(path)
        chat = int(parts[3])
        size = self._sizes(chat)
        if size is None:
            raise KeyError(path)
        return Listing(message_ids(chat, size), **self._listing)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def heavy_tailed(seed: int) -> Callable[[int], int]:
    """Sizes 0 to a few hundred, most under one page."""
    rng = random.Random(seed)
    cache: dict[int, int] = {}

    def size(chat: int) -> int:
        if chat not in cache:
            cache[chat] = int(rng.paretovariate(1.2) * 8) - 8 if chat % 7 else rng.randrange(350)
        return cache[chat]

    return size


async def fan_out(
    server: PageServer,
    session: aiohttp.ClientSession,
    chats: Any,
    *,
    concurrency: int = 4,
    page_size: int = 100,
) -> FanOutScan[int, int]:
    fetch = listing_fetcher(session, server.base_url + PATH.removeprefix("/v1"))
    return FanOutScan(
        chats,
        fetch,
        key=int,
        page_size=page_size,
        concurrency=concurrency,
        listing_id=lambda chat: chat if isinstance(chat, int) else chat["id"],
    )


async def drain(scan: FanOutScan[int, int], into: list[int] | None = None) -> list[int]:
    """Every message the scan yields (also appended to ``into``), then close it."""
    got = [] if into is None else into
    async with scan:
        async for message in scan:
            got.append(message)
    return got


def requests_per_chat(server: PageServer) -> dict[int, int]:
    counts: dict[int, int] = {}
    for path, _, _ in server.log:
        chat = int(path.split("/")[3])
        counts[chat] = counts.get(chat, 0) + 1
    return counts


async def test_every_message_chat_by_chat_in_server_order_one_request_per_small_chat() -> None:
    sizes = heavy_tailed(3)
    chats = list(range(1, 121))
    async with PageServer(Chats(sizes)) as server, aiohttp.ClientSession() as session:
        scan = await fan_out(server, session, chats)
        async with scan:
            got = [m async for m in scan]
        counts = requests_per_chat(server)
    assert got == [m for chat in chats for m in message_ids(chat, sizes(chat))]
    for chat in chats:
        # One request for a chat of one page (or none); one per page beyond.
        assert counts[chat] == max(1, -(-sizes(chat) // 100)), chat
    assert scan.stats.listings == scan.stats.listings_done == 120
    assert scan.stats.items == len(got)
    assert scan.stats.requests == sum(counts.values())
    assert scan.current_listing == chats[-1] or sizes(chats[-1]) == 0


async def test_chats_given_as_objects_from_an_async_iterable_are_taken_lazily() -> None:
    pulled: list[int] = []
    closed: list[bool] = []

    async def chats() -> AsyncIterator[dict[str, int]]:
        try:
            for chat in range(1, 10_000):
                pulled.append(chat)
                yield {"id": chat}
        finally:
            closed.append(True)

    async with PageServer(Chats(lambda _: 1)) as server, aiohttp.ClientSession() as session:
        scan = await fan_out(server, session, chats(), concurrency=3)
        async with scan:
            first = await anext(scan)
            await asyncio.sleep(0.2)
            # Keys are taken only while there is room: the lookahead, no more.
            assert len(pulled) <= 2 * 3 + 2
            rest = [await anext(scan) for _ in range(199)]
        assert closed == [True]
    assert [first, *rest] == [m for chat in range(1, 201) for m in message_ids(chat, 1)]


async def test_a_chat_that_is_gone_is_reported_and_skipped() -> None:
    def size(chat: int) -> int | None:
        return None if chat % 5 == 0 else 3

    async with PageServer(Chats(size)) as server, aiohttp.ClientSession() as session:
        scan = await fan_out(server, session, range(1, 31))
        async with scan:
            got = [m async for m in scan]
    kept = [chat for chat in range(1, 31) if chat % 5]
    assert got == [m for chat in kept for m in message_ids(chat, 3)]
    assert scan.stats.not_found == 6
    assert scan.stats.not_found_keys == [5, 10, 15, 20, 25, 30]
    assert scan.stats.listings_done == 30


async def test_any_other_error_ends_the_scan_and_nothing_keeps_running() -> None:
    chats = Chats(lambda _: 250)
    async with PageServer(chats) as server, aiohttp.ClientSession() as session:
        server.listings = _Failing(chats, failing=7)
        scan = await fan_out(server, session, range(1, 50))
        with pytest.raises(aiohttp.ClientResponseError) as info:
            await drain(scan)
        assert info.value.status == 500
        settled = len(server.log)
        await asyncio.sleep(0.1)
        assert len(server.log) == settled
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


class _Failing(Mapping[str, Listing]):
    """``chats`` with one chat that answers 500."""

    def __init__(self, chats: Chats, *, failing: int) -> None:
        self._chats = chats
        self._failing = failing

    def __getitem__(self, path: str) -> Listing:
        listing = self._chats[path]
        if path == PATH.format(self._failing):
            listing.status = 500
        return listing

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


async def test_short_pages_within_a_chat_are_filled() -> None:
    async with (
        PageServer(Chats(lambda _: 120, max_page=50)) as server,
        aiohttp.ClientSession() as session,
    ):
        scan = await fan_out(server, session, range(1, 6))
        async with scan:
            got = [m async for m in scan]
    assert got == [m for chat in range(1, 6) for m in message_ids(chat, 120)]


async def test_a_chat_that_stops_short_of_its_total_fails_the_scan() -> None:
    async with (
        PageServer(Chats(lambda _: 300, served_until=150)) as server,
        aiohttp.ClientSession() as session,
    ):
        scan = await fan_out(server, session, [4, 8])
        with pytest.raises(hc.IncompleteScanError, match=r"^4: ") as info:
            await drain(scan)
    assert (info.value.missing, info.value.at_offset) == (150, 150)


async def test_break_stops_every_request_and_closes_the_source() -> None:
    closed: list[bool] = []

    async def chats() -> AsyncIterator[int]:
        try:
            for chat in range(1, 100_000):
                yield chat
        finally:
            closed.append(True)

    async with (
        PageServer(Chats(lambda _: 40, latency=0.05)) as server,
        aiohttp.ClientSession() as session,
    ):
        scan = await fan_out(server, session, chats(), concurrency=8)
        async with scan:
            async for _ in scan:
                break
        # Requests already written before the close reach the server a moment later.
        await asyncio.sleep(0.1)
        settled = len(server.log)
        await asyncio.sleep(0.2)
        assert len(server.log) == settled
    assert closed == [True]
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_a_key_source_that_fails_ends_the_scan() -> None:
    def chats() -> Iterator[int]:
        yield 1
        yield 2
        raise hc.InvalidParameterError("chat ids must be ints")

    async with PageServer(Chats(lambda _: 2)) as server, aiohttp.ClientSession() as session:
        scan = await fan_out(server, session, chats())
        got: list[int] = []
        with pytest.raises(hc.InvalidParameterError, match="must be ints"):
            await drain(scan, got)
    # The chats before the bad key come out first, whole.
    assert got == [*message_ids(1, 2), *message_ids(2, 2)]


async def test_an_empty_source_costs_nothing() -> None:
    async with PageServer(Chats(lambda _: 2)) as server, aiohttp.ClientSession() as session:
        scan = await fan_out(server, session, [])
        async with scan:
            assert [m async for m in scan] == []
        assert server.log == []
    with contextlib.suppress(StopAsyncIteration):
        await anext(scan)


# -- each chat once, and whole or absent, against the emulator ------------------------

EMULATOR_KEY = "test-key"


def emulator_client(emu: Any) -> hc.HelpCrunch:
    return hc.HelpCrunch(
        EMULATOR_KEY, base_url=emu.base_url, rate_limit=10_000, rate_period=1.0, backoff=0.01
    )


async def test_a_chat_named_again_is_read_once_so_each_message_comes_once() -> None:
    from helpcrunch_async.testing import Emulator  # noqa: PLC0415 -- this section's server

    async with (
        Emulator(
            customers=10,
            chats=5,
            seed=2,
            api_key=EMULATOR_KEY,
            account=Account(messages_per_chat=30),
        ) as emu,
        emulator_client(emu) as client,
    ):
        first, second = emu.expected_chat_ids()[:2]
        async with client.chats.iter_messages_of([first, first, second, first]) as scan:
            ids = [m.id async for m in scan]
        expected = [m["id"] for c in (first, second) for m in emu.truth_messages(c)]
        asked = [e.path for e in emu.log]
    assert ids == expected
    assert len(asked) == len(set(asked)) == 2
    assert scan.stats.listings == scan.stats.listings_done == 2


@pytest.mark.parametrize("whole", [False, True])
async def test_a_chat_deleted_after_its_first_page_is_counted_and_with_whole_absent(
    *, whole: bool
) -> None:
    from helpcrunch_async.testing import Emulator  # noqa: PLC0415 -- as above

    async with (
        Emulator(
            customers=10,
            chats=6,
            seed=4,
            api_key=EMULATOR_KEY,
            account=Account(messages_per_chat=200),
        ) as emu,
        emulator_client(emu) as client,
    ):
        chats = emu.expected_chat_ids()
        big = next(c for c in chats if emu.message_count(c) > 100)
        truth = {c: [m["id"] for m in emu.truth_messages(c)] for c in chats}
        emu.faults.vanishing_chats = frozenset({big})
        async with client.chats.iter_messages_of(chats, whole=whole) as scan:
            ids = [m.id async for m in scan]
    others = [i for c in chats if c != big for i in truth[c]]
    assert scan.stats.not_found == scan.stats.cut_short == 1
    if whole:
        assert ids == others
    else:
        # Streaming: the first page went out before the chat was gone; the stats say so.
        assert [i for i in ids if i in set(truth[big])] == truth[big][:100]
        assert [i for i in ids if i not in set(truth[big])] == others


async def test_whole_that_is_not_a_bool_is_refused_before_any_request() -> None:
    async with hc.HelpCrunch(EMULATOR_KEY, base_url="http://127.0.0.1:9/v1") as client:
        with pytest.raises(hc.InvalidParameterError, match="whole"):
            client.chats.iter_messages_of([1], whole="yes")  # type: ignore[arg-type]
