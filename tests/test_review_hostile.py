"""An adversarial review of the whole read API: hostile bodies, bad arguments, capped listings.

Each test failed before its fix. Tiny loopback servers serve one hostile body
to every endpoint; the emulator's knobs (``page_cap``, ``list_total``) make a
capped listing without a count.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web

import helpcrunch_async as hc
from helpcrunch_async.testing import Account, Emulator, Faults, WireVariants

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

KEY = "test-key"
DEEP = 10_000


@contextlib.asynccontextmanager
async def body_server(body: bytes, status: int = 200) -> AsyncIterator[tuple[str, list[str]]]:
    """Serve ``body`` with ``status`` at every path; yield the base URL and the paths asked."""
    asked: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        asked.append(request.path)
        return web.Response(status=status, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1", asked
    finally:
        await runner.cleanup()


async def drain(scan: Any) -> list[Any]:
    """Every item of a scan, closing it however it ends."""
    async with scan:
        return [item async for item in scan]


async def until_error(scan: Any) -> tuple[list[Any], BaseException | None]:
    """The items a scan yields before it fails, and its error (None if it ends)."""
    got: list[Any] = []
    try:
        async with scan:
            async for item in scan:
                got.append(item)  # noqa: PERF401 -- the items before the error count
    except hc.HelpCrunchError as error:
        return got, error
    return got, None


CALLS: dict[str, Callable[[hc.HelpCrunch], Awaitable[Any]]] = {
    "customers": lambda c: c.customers.list(),
    "customer": lambda c: c.customers.get(1),
    "customers.search": lambda c: c.customers.search([hc.Filter("customers.id", ">=", 1)]),
    "chats": lambda c: c.chats.list(),
    "chat": lambda c: c.chats.get(1),
    "chats.search": lambda c: c.chats.search([hc.Filter("chats.createdAt", ">=", 1)]),
    "messages": lambda c: c.chats.messages(1),
    "agents": lambda c: c.agents.list(),
    "departments": lambda c: c.departments.list(),
}


def nested(depth: int) -> bytes:
    inner = b"[" * depth + b"]" * depth
    item = b'{"id": 1, "x": ' + inner + b"}"
    return b'{"total": 1, "meta": {"total": 1}, "data": [' + item + b"]}"


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
async def test_a_deeply_nested_body_is_a_decode_error_not_a_recursion_error(
    call: Callable[[hc.HelpCrunch], Awaitable[Any]],
) -> None:
    # msgspec raises RecursionError, not a DecodeError, past its depth: it
    # escaped the caller and the error tree, on every endpoint.
    async with (
        body_server(nested(DEEP)) as (url, _),
        hc.HelpCrunch(KEY, base_url=url, max_retries=0) as client,
    ):
        with pytest.raises(hc.DecodeError, match="nested too deeply"):
            await call(client)


async def test_a_deeply_nested_error_body_is_still_the_status_error() -> None:
    async with (
        body_server(b'{"errors": ' + b"[" * DEEP + b"]" * DEEP + b"}", status=400) as (url, _),
        hc.HelpCrunch(KEY, base_url=url, max_retries=0) as client,
    ):
        with pytest.raises(hc.BadRequestError):
            await client.chats.list()


IMPOSSIBLE_TOTALS = {
    "negative top-level": b'{"total": -5, "data": []}',
    "negative meta": b'{"meta": {"total": -5}, "data": []}',
    "beyond int64": b'{"total": 123456789012345678901234567890, "meta": {"total": 1}, "data": []}',
}


@pytest.mark.parametrize("body", IMPOSSIBLE_TOTALS.values(), ids=IMPOSSIBLE_TOTALS.keys())
@pytest.mark.parametrize(
    "call",
    [v for k, v in CALLS.items() if k not in ("customer", "chat")],
    ids=[k for k in CALLS if k not in ("customer", "chat")],
)
async def test_an_impossible_total_is_a_decode_error_with_its_path(
    call: Callable[[hc.HelpCrunch], Awaitable[Any]], body: bytes
) -> None:
    async with (
        body_server(body) as (url, _),
        hc.HelpCrunch(KEY, base_url=url, max_retries=0) as client,
    ):
        with pytest.raises(hc.DecodeError, match=r"total"):
            await call(client)


async def test_a_negative_total_does_not_end_a_scan_as_complete() -> None:
    # A scan planned around total=-5 read one page and called itself complete.
    body = b'{"meta": {"total": -5}, "data": [{"id": 1}, {"id": 2}]}'
    async with (
        body_server(body) as (url, _),
        hc.HelpCrunch(KEY, base_url=url, backoff=0.001, max_backoff=0.002, max_retries=1) as client,
    ):
        with pytest.raises(hc.DecodeError):
            await drain(client.chats.iter_all())


NOT_CHAT_IDS: dict[str, object] = {
    "None": None,
    "an int": 7000001,
    "a str of digits": "7000001",
    "bytes": b"7000001",
    "a list with junk at the end": [7000001, 7000002, "x"],
    "a tuple with a bool": (7000001, True),
    "a list with an id beyond int64": [7000001, 2**63],
}


@pytest.mark.parametrize("chats", NOT_CHAT_IDS.values(), ids=NOT_CHAT_IDS.keys())
async def test_iter_messages_of_refuses_what_holds_no_chat_ids_before_any_request(
    chats: object,
) -> None:
    # None and an int raised TypeError; a str was iterated character by
    # character; a list's junk was found only after the chats before it were read.
    async with (
        Emulator(customers=5, chats=3, api_key=KEY) as emu,
        hc.HelpCrunch(KEY, base_url=emu.base_url) as client,
    ):
        with pytest.raises(hc.InvalidParameterError, match="chat"):
            await drain(client.chats.iter_messages_of(chats))  # type: ignore[arg-type]
        assert emu.log == []


async def test_junk_in_an_async_source_fails_after_the_chats_before_it_and_leaves_no_task() -> None:
    async with (
        Emulator(customers=5, chats=4, seed=3, api_key=KEY) as emu,
        hc.HelpCrunch(KEY, base_url=emu.base_url) as client,
    ):
        first = emu.expected_chat_ids()[0]

        async def source() -> AsyncIterator[object]:
            yield first
            await asyncio.sleep(0)
            yield "not an id"
            yield emu.expected_chat_ids()[1]

        scan = client.chats.iter_messages_of(source())  # type: ignore[arg-type]
        got, error = await until_error(scan)
        assert isinstance(error, hc.InvalidParameterError)
        assert "chat id" in str(error)
        assert "'not an id'" in str(error)
        assert [m.id for m in got] == [m["id"] for m in emu.truth_messages(first)]
        assert {e.path for e in emu.log} == {f"/v1/chats/{first}/messages"}
        # The emulator's own connection handlers aside, nothing of the scan runs on.
        ours = [
            t
            for t in asyncio.all_tasks()
            if t is not asyncio.current_task() and "RequestHandler" not in repr(t)
        ]
        assert ours == []


HUGE = 2**63
HUGE_ARGUMENTS: dict[str, Callable[[hc.HelpCrunch], Awaitable[Any]]] = {
    "customers.get": lambda c: c.customers.get(HUGE),
    "chats.get": lambda c: c.chats.get(HUGE),
    "chats.messages": lambda c: c.chats.messages(HUGE),
    "messages offset": lambda c: c.chats.messages(1, offset=HUGE),
    "agents offset": lambda c: c.agents.list(offset=2**80),
    "chats.list offset": lambda c: c.chats.list(offset=HUGE),
    "iter_messages": lambda c: anext(aiter(c.chats.iter_messages(HUGE))),
    "iter_all start": lambda c: anext(aiter(c.departments.iter_all(start=HUGE))),
    "search id filter": lambda c: c.customers.search([hc.Filter("customers.id", ">=", 2**70)]),
    "search date filter": lambda c: c.chats.search([hc.Filter("chats.createdAt", ">=", -(2**64))]),
}


@pytest.mark.parametrize("call", HUGE_ARGUMENTS.values(), ids=HUGE_ARGUMENTS.keys())
async def test_ids_and_offsets_beyond_int64_are_refused_before_any_request(
    call: Callable[[hc.HelpCrunch], Awaitable[Any]],
) -> None:
    # The server's ids and offsets are 64-bit: these were sent, and answered
    # 404 or an empty page, as if the account simply had no such item.
    async with (
        Emulator(customers=5, chats=3, api_key=KEY) as emu,
        hc.HelpCrunch(KEY, base_url=emu.base_url) as client,
    ):
        with pytest.raises(hc.InvalidParameterError, match=r"at most"):
            await call(client)
        assert emu.log == []


CUSTOMER_IDS = [hc.Filter("customers.id", ">=", 1)]
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


def our_tasks() -> list[asyncio.Task[Any]]:
    """Tasks still pending, but this test's own and the emulator's connection handlers."""
    return [
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task() and not t.done() and "RequestHandler" not in repr(t)
    ]


async def first_messages(scan: Any, count: int) -> None:
    got = 0
    async for _ in scan:
        got += 1
        if got == count:
            break


async def test_closing_a_fan_out_over_a_scan_after_break_leaves_no_task() -> None:
    # aclose() cancelled the key feeder, but an answer arriving while it waited
    # for the feeder to end dispatched again and started a new feeder, left pending.
    async with (
        Emulator(customers=20, chats=120, seed=2, api_key=KEY, latency=0.005) as emu,
        hc.HelpCrunch(KEY, base_url=emu.base_url, rate_limit=10_000, rate_period=1.0) as client,
    ):
        for _ in range(5):
            chats = client.chats.iter_all(page_size=10)
            scan = client.chats.iter_messages_of(chats, page_size=5)
            await first_messages(scan, 7)
            await scan.aclose()
            await asyncio.sleep(0.02)
            assert our_tasks() == []


async def test_a_fan_out_over_a_scan_dropped_after_break_stops_at_once() -> None:
    # The feeder task held the scan strongly: a dropped scan lived on in a
    # cycle with its pending feeder until the collector destroyed the task.
    loop = asyncio.get_running_loop()
    problems: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: problems.append(context))
    try:
        async with (
            Emulator(customers=20, chats=120, seed=2, api_key=KEY, latency=0.005) as emu,
            hc.HelpCrunch(KEY, base_url=emu.base_url, rate_limit=10_000, rate_period=1.0) as c,
        ):
            for _ in range(5):
                scan = c.chats.iter_messages_of(c.chats.iter_all(page_size=10), page_size=5)
                await first_messages(scan, 7)
                del scan
                await asyncio.sleep(0.05)
                assert our_tasks() == []
                gc.collect()
                await asyncio.sleep(0.01)
    finally:
        loop.set_exception_handler(None)
    assert [p.get("message") for p in problems] == []


BEYOND_64_BITS = {
    "a chat id": b'{"meta": {"total": 1}, "total": 1, "data": [{"id": 99999999999999999999}]}',
    "a message's chat": b'{"total": 1, "data": [{"id": 1, "chat": 99999999999999999999}]}',
    "a timestamp as text": (
        b'{"meta": {"total": 1}, "total": 1, "data": '
        b'[{"id": 1, "createdAt": "99999999999999999999999999"}]}'
    ),
    "a timestamp as a number": (
        b'{"meta": {"total": 1}, "total": 1, "data": [{"id": 1, "createdAt": 1e300}]}'
    ),
}


@pytest.mark.parametrize("body", BEYOND_64_BITS.values(), ids=BEYOND_64_BITS.keys())
async def test_an_id_or_timestamp_beyond_64_bits_is_a_decode_error_with_its_path(
    body: bytes,
) -> None:
    # Accepted before: the dlt mirror's bigint columns cannot hold them, so a
    # sync failed late, inside the destination, instead of at the wire.
    async with (
        body_server(body) as (url, _),
        hc.HelpCrunch(KEY, base_url=url, max_retries=0) as client,
    ):
        read = client.chats.messages(1) if b'"chat"' in body else client.chats.list()
        with pytest.raises(hc.DecodeError, match=r"\$\.data\[0\]"):
            await read


SCANS_OF = {
    "chats.iter_all": lambda c: c.chats.iter_all(page_size=10),
    "chats.iter_messages_of": lambda c: c.chats.iter_messages_of(c.chats.iter_all(), page_size=5),
    "customers.iter_search": lambda c: c.customers.iter_search(CUSTOMER_IDS, page_size=10),
    "agents.iter_all": lambda c: c.agents.iter_all(page_size=1),
}


@pytest.mark.parametrize("scan_of", SCANS_OF.values(), ids=SCANS_OF.keys())
async def test_a_scan_cut_short_by_closing_the_client_is_not_an_end(
    scan_of: Callable[[hc.HelpCrunch], Any],
) -> None:
    # The client closed by another task (a web app's shutdown) ended the
    # consumer's `async for` normally: a partial read looked complete.
    async with Emulator(
        customers=300, chats=200, api_key=KEY, latency=0.01, account=Account(agents=300)
    ) as emu:
        client = hc.HelpCrunch(KEY, base_url=emu.base_url, rate_limit=10_000, rate_period=1.0)
        scan = scan_of(client)
        read: list[Any] = []

        async def consume() -> None:
            async for item in scan:
                read.append(item)
                await asyncio.sleep(0.001)

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.1)
        await client.close()
        with pytest.raises(hc.ClientClosedError, match="before this scan ended"):
            await task
        assert read
    # A scan that had ended, or that its consumer closed, ends as before.
    async with Emulator(customers=5, api_key=KEY) as emu:
        client = hc.HelpCrunch(KEY, base_url=emu.base_url)
        done = client.customers.iter_all()
        assert len(await drain(done)) == 5
        closed = client.customers.iter_all()
        await anext(closed)
        await closed.aclose()
        await client.close()
        assert [c async for c in done] == []
        assert [c async for c in closed] == []


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
