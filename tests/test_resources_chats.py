"""client.chats over the emulator: paging, order, fields, variants, drift of chats and messages."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import msgspec
import pytest

import helpcrunch_async as hc
from helpcrunch_async._models.chats import decode_chat
from helpcrunch_async._models.messages import Message
from helpcrunch_async.testing import Account, Drift, Emulator, WireVariants

KEY = "test-key"
CHAT_SORTS = [
    "chats.createdAt",
    "chats.lastCustomerMessageAt",
    "chats.lastMessageAt",
    "chats.closedAt",
]


def client_for(emu: Emulator, **kwargs: Any) -> hc.HelpCrunch:
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("max_backoff", 0.05)
    return hc.HelpCrunch(KEY, base_url=emu.base_url, **kwargs)


def as_chat(wire: dict[str, Any]) -> hc.Chat:
    return decode_chat(msgspec.json.encode(wire))


def as_messages(wire: list[dict[str, Any]]) -> list[Message]:
    return msgspec.json.decode(msgspec.json.encode(wire), type=list[Message])


@pytest.mark.parametrize("sort", [None, *CHAT_SORTS])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_iter_all_yields_every_chat_once_in_server_order(
    sort: str | None, order: str
) -> None:
    async with (
        Emulator(customers=50, chats=345, seed=3, api_key=KEY) as emu,
        client_for(emu) as client,
    ):
        async with client.chats.iter_all(sort=sort, order=order) as scan:  # type: ignore[arg-type]
            chats = [chat async for chat in scan]
        assert [c.id for c in chats] == emu.expected_chat_ids(sort, order)
        paths = {e.path for e in emu.log}
    assert isinstance(scan, hc.Scan)
    assert scan.stats.requests == 4
    assert scan.stats.total_at_start == scan.stats.total_at_end == 345
    assert paths == {"/v1/chats"}


async def test_fields_equal_the_server_truth() -> None:
    async with (
        Emulator(
            customers=40, chats=120, seed=9, api_key=KEY, account=Account(agents=6, departments=3)
        ) as emu,
        client_for(emu) as client,
    ):
        chats = [c async for c in client.chats.iter_all()]
        truth = {c["id"]: as_chat(c) for c in emu.truth_chats()}
        sample = chats[17]
        one = await client.chats.get(sample.id)
    assert {c.id: c for c in chats} == truth
    assert one == sample
    assert sample.customer is not None
    assert sample.application_id is not None
    assert isinstance(sample.created_at, int)
    statuses = {c.status for c in chats}
    assert "on hold" not in statuses  # the emulator sends "on hold"; the model says onhold
    assert statuses <= {"new", "opened", "pending", "onhold", "closed", "no communication", "empty"}


async def test_list_is_one_page_with_meta_total() -> None:
    async with Emulator(customers=10, chats=250, api_key=KEY) as emu, client_for(emu) as client:
        page = await client.chats.list(offset=240, limit=100, sort="chats.createdAt", order="desc")
        (entry,) = emu.log
    assert isinstance(page, hc.ChatsPage)
    assert page.total == 250
    assert [c.id for c in page.data] == emu.expected_chat_ids("chats.createdAt", "desc")[240:]
    assert entry.query == "offset=240&limit=100&sort=chats.createdAt&order=desc"


async def test_get_of_a_missing_chat_is_not_found_in_both_error_styles() -> None:
    for style in ("old", "new"):
        async with (
            Emulator(chats=3, api_key=KEY, variants=WireVariants(error_style=style)) as emu,
            client_for(emu) as client,
        ):
            with pytest.raises(hc.NotFoundError):
                await client.chats.get(1)
            assert len(emu.log) == 1


@pytest.mark.parametrize("key", ["data", "messages"])
async def test_messages_newest_first_with_total(key: str) -> None:
    async with (
        Emulator(
            customers=10,
            chats=40,
            seed=2,
            api_key=KEY,
            account=Account(messages_per_chat=60),
            variants=WireVariants(messages_key=key),
        ) as emu,
        client_for(emu) as client,
    ):
        chat_id = max(emu.expected_chat_ids(), key=emu.message_count)
        count = emu.message_count(chat_id)
        truth = as_messages(emu.truth_messages(chat_id))
        page = await client.chats.messages(chat_id, offset=0, limit=7)
        async with client.chats.iter_messages(chat_id, page_size=50) as scan:
            messages = [m async for m in scan]
    assert count > 100
    assert isinstance(page, hc.MessagesPage)
    assert page.data == truth[:7]
    assert messages == truth
    times = [m.created_at or 0 for m in messages]
    assert times == sorted(times, reverse=True)
    assert all(m.chat == chat_id and m.from_ in ("agent", "customer") for m in messages)
    assert scan.stats.requests == math.ceil(count / 50)
    assert page.total == scan.stats.total_at_start == count


async def test_string_timestamps_decode_to_the_same_chats() -> None:
    async with (
        Emulator(customers=10, chats=30, seed=4, api_key=KEY) as emu,
        client_for(emu) as client,
    ):
        ints = [c async for c in client.chats.iter_all()]
    async with (
        Emulator(
            customers=10, chats=30, seed=4, api_key=KEY, account=Account(timestamps_as_strings=True)
        ) as emu,
        client_for(emu) as client,
    ):
        assert isinstance(emu.truth_chats()[0]["createdAt"], str)
        strings = [c async for c in client.chats.iter_all()]
    assert strings == ints


async def test_updated_at_variant_is_read() -> None:
    async with (
        Emulator(
            customers=10, chats=20, api_key=KEY, variants=WireVariants(chats_updated_at=True)
        ) as emu,
        client_for(emu) as client,
    ):
        chats = [c async for c in client.chats.iter_all()]
        assert all(c.updated_at == emu.chat_updated_at(c.id) for c in chats)


async def test_new_chats_during_a_scan_by_creation_desc_are_neither_lost_nor_repeated() -> None:
    drift = [Drift(after_request=1, add_chats=7), Drift(after_request=3, add_chats=5)]
    async with (
        Emulator(customers=20, chats=600, seed=1, api_key=KEY, drift=drift, latency=0.005) as emu,
        client_for(emu, concurrency=4) as client,
    ):
        before = set(emu.expected_chat_ids())
        async with client.chats.iter_all(sort="chats.createdAt", order="asc") as scan:
            ids = [c.id async for c in scan]
        after = emu.expected_chat_ids("chats.createdAt", "asc")
    assert len(ids) == len(set(ids))
    # Everything that existed at the start is seen, in the server's order.
    assert before <= set(ids)
    assert [i for i in after if i in set(ids)] == ids
    assert scan.stats.total_at_end == 612


async def test_messages_written_during_iter_messages_shift_nothing_past() -> None:
    async with (
        Emulator(
            customers=10, chats=30, seed=6, api_key=KEY, account=Account(messages_per_chat=80)
        ) as emu,
        client_for(emu, concurrency=3) as client,
    ):
        chat_id = max(emu.expected_chat_ids(), key=emu.message_count)
        old = [m["id"] for m in emu.truth_messages(chat_id)]
        seen: list[int] = []
        async with client.chats.iter_messages(chat_id, page_size=20, concurrency=3) as scan:
            async for message in scan:
                seen.append(message.id)
                if len(seen) in (5, 45):
                    # New messages go to the front: every later offset moves by 2.
                    emu.add_messages(chat_id, 2)
    assert len(old) > 100
    assert len(seen) == len(set(seen))
    assert set(old) <= set(seen)
    assert [i for i in seen if i in set(old)] == old
    assert scan.stats.total_changed


async def test_closing_the_client_stops_every_resources_scans() -> None:
    async with Emulator(
        customers=10, chats=900, api_key=KEY, latency=0.05, account=Account(agents=300)
    ) as emu:
        client = client_for(emu, rate_limit=1000, rate_period=1.0)
        chats = client.chats.iter_all()
        messages = client.chats.iter_messages_of(emu.expected_chat_ids())
        agents = client.agents.iter_all(page_size=10)
        for scan in (chats, messages, agents):
            await anext(scan)
        await client.close()
        sent = len(emu.log)
        # Cut short, not ended: their consumers must not take them as complete.
        for scan in (chats, messages, agents):
            with pytest.raises(hc.ClientClosedError, match="before this scan ended"):
                await anext(scan)
        await asyncio.sleep(0.15)
        assert len(emu.log) == sent
