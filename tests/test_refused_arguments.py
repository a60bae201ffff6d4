"""Arguments no request can carry are refused before any request, naming the problem.

Chat ids for the fan-out that are not chat ids, and ids and offsets past the
server's 64 bits, against the emulator (whose log shows that nothing was sent).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from scan_reads import drain, until_error

import helpcrunch_async as hc
from helpcrunch_async.testing import Emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

KEY = "test-key"


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
