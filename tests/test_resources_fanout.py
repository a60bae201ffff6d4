"""chats.iter_messages_of over the emulator: order, one request per small chat, bounds, skips."""

from __future__ import annotations

import asyncio
import itertools
import math
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import Account, Emulator, Faults

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

KEY = "test-key"


def client_for(emu: Emulator, **kwargs: Any) -> hc.HelpCrunch:
    # Hundreds of requests: the default cap (120 a minute) would hold them back.
    kwargs.setdefault("rate_limit", 10_000)
    kwargs.setdefault("rate_period", 1.0)
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("max_backoff", 0.05)
    return hc.HelpCrunch(KEY, base_url=emu.base_url, **kwargs)


def truth(emu: Emulator, ids: list[int]) -> list[hc.Message]:
    wire = [m for chat_id in ids for m in emu.truth_messages(chat_id)]
    return msgspec.json.decode(msgspec.json.encode(wire), type=list[hc.Message])


def pages_needed(emu: Emulator, ids: list[int], page_size: int = 100) -> int:
    return sum(max(1, math.ceil(emu.message_count(i) / page_size)) for i in ids)


async def test_messages_chat_by_chat_each_newest_first_one_request_per_small_chat() -> None:
    async with (
        Emulator(
            customers=50, chats=400, seed=3, api_key=KEY, account=Account(messages_per_chat=25)
        ) as emu,
        client_for(emu) as client,
    ):
        ids = emu.expected_chat_ids("chats.lastMessageAt", "desc")
        async with client.chats.iter_messages_of(ids) as scan:
            messages = [m async for m in scan]
        expected = truth(emu, ids)
        needed = pages_needed(emu, ids)
        small = sum(1 for i in ids if emu.message_count(i) <= 100)
        paths = [e.path for e in emu.log]
    assert messages == expected
    assert small > 300
    assert needed > len(ids)  # a few chats of several pages
    assert len(paths) == needed  # one request per small chat, one per page of the others
    assert scan.stats.requests == needed
    assert scan.stats.listings == scan.stats.listings_done == 400
    assert scan.stats.items == len(expected)


async def test_chats_as_objects_an_iterator_or_an_async_scan() -> None:
    async with (
        Emulator(
            customers=20, chats=150, seed=5, api_key=KEY, account=Account(messages_per_chat=15)
        ) as emu,
        client_for(emu) as client,
    ):
        chats = [c async for c in client.chats.iter_all(sort="chats.createdAt")]
        ids = [c.id for c in chats]
        expected = [m.id for m in truth(emu, ids)]
        from_objects = [m.id async for m in client.chats.iter_messages_of(chats)]
        from_iterator = [m.id async for m in client.chats.iter_messages_of(iter(ids))]
        emu.reset_log()
        source = client.chats.iter_all(sort="chats.createdAt")
        from_scan = [m.id async for m in client.chats.iter_messages_of(source)]
        chat_pages = sum(1 for e in emu.log if e.path == "/v1/chats")
        message_pages = sum(1 for e in emu.log if e.path != "/v1/chats")
    assert from_objects == from_iterator == from_scan == expected
    assert chat_pages == 2
    assert message_pages == pages_needed(emu, ids)


async def test_the_fan_out_reads_ahead_a_bounded_amount_of_an_endless_source() -> None:
    async with (
        Emulator(
            customers=20, chats=60, seed=2, api_key=KEY, account=Account(messages_per_chat=5)
        ) as emu,
        client_for(emu, concurrency=4) as client,
    ):
        ids = emu.expected_chat_ids()
        taken = 0

        def endless() -> Iterator[int]:
            nonlocal taken
            for chat_id in itertools.cycle(ids):
                taken += 1
                yield chat_id

        async with client.chats.iter_messages_of(endless()) as scan:
            first = [m async for m in first_items(scan, 30)]
            await asyncio.sleep(0.2)  # a slow consumer: fetching must stop, not fill memory
            sent = len(emu.log)
            await asyncio.sleep(0.2)
            assert len(emu.log) == sent
        listings = scan.stats.listings
    assert len(first) == 30
    # Twice the concurrency of pages ahead, plus the listing being read.
    assert sent <= scan.stats.listings_done + 2 * 4 + 1
    assert taken <= listings + 1
    assert listings < 40


async def first_items(scan: Any, count: int) -> AsyncIterator[hc.Message]:
    """Yield the first ``count`` items of an async iterator, without closing it."""
    for _ in range(count):
        yield await anext(scan)


async def test_a_deleted_chat_is_skipped_and_reported() -> None:
    async with (
        Emulator(
            customers=20, chats=30, seed=8, api_key=KEY, account=Account(messages_per_chat=10)
        ) as emu,
        client_for(emu) as client,
    ):
        ids = emu.expected_chat_ids()
        gone = [ids[3], ids[17]]
        emu.delete_chats(gone)
        kept = [i for i in ids if i not in gone]
        expected = truth(emu, kept)
        async with client.chats.iter_messages_of(ids) as scan:
            messages = [m async for m in scan]
    assert messages == expected
    assert scan.stats.not_found == 2
    assert sorted(scan.stats.not_found_keys) == sorted(gone)  # type: ignore[type-var]
    assert scan.stats.listings_done == 30


async def test_other_errors_end_the_scan() -> None:
    async with (
        Emulator(customers=20, chats=10, api_key=KEY, faults=Faults(fail={3: "401"})) as emu,
        client_for(emu) as client,
    ):
        with pytest.raises(hc.AuthenticationError):
            async for _ in client.chats.iter_messages_of(emu.expected_chat_ids()):
                pass


@pytest.mark.parametrize("bad", ["7000001", 0, -3, True, None, 1.5])
async def test_an_id_that_is_not_one_is_refused_before_its_request(bad: object) -> None:
    async with Emulator(customers=20, chats=10, api_key=KEY) as emu, client_for(emu) as client:
        with pytest.raises(hc.InvalidParameterError, match="chat id"):
            async for _ in client.chats.iter_messages_of([bad]):  # type: ignore[list-item]
                pass
        assert emu.log == []
        with pytest.raises(hc.InvalidParameterError, match="limit"):
            client.chats.iter_messages_of([], page_size=0)


async def test_messages_written_during_the_fan_out_are_neither_lost_nor_repeated() -> None:
    async with (
        Emulator(
            customers=20, chats=40, seed=6, api_key=KEY, account=Account(messages_per_chat=60)
        ) as emu,
        client_for(emu, concurrency=3) as client,
    ):
        ids = emu.expected_chat_ids()
        before = {i: [m["id"] for m in emu.truth_messages(i)] for i in ids}
        busy = max(ids, key=emu.message_count)
        seen: list[hc.Message] = []
        async with client.chats.iter_messages_of(ids, page_size=20) as scan:
            async for message in scan:
                seen.append(message)
                if len(seen) % 97 == 0:
                    emu.add_messages(busy, 3)
    by_chat: dict[int | None, list[int]] = {}
    for message in seen:
        by_chat.setdefault(message.chat, []).append(message.id)
    assert list(by_chat) == ids  # chat by chat, in the order given
    for chat_id, old in before.items():
        got = by_chat[chat_id]
        assert len(got) == len(set(got))
        assert [i for i in got if i in set(old)] == old
