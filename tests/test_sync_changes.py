"""The change API over loopback: count, find_deleted, iter_changed, new messages.

Against the emulator, with drift while the scans run: what each call returns is
checked against the emulator's own data, and its requests against the log.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import pytest

from helpcrunch_async import HelpCrunch
from helpcrunch_async._core.filters import Filter
from helpcrunch_async._core.reconcile import deletion_request_bound
from helpcrunch_async._errors import (
    AuthenticationError,
    IncompleteScanError,
    InvalidParameterError,
)
from helpcrunch_async._resources.changes import (
    count_customers,
    customers_high_water,
    find_deleted,
    iter_changed_chats,
    iter_changed_customers,
    iter_new_messages,
    reconcile_ids,
)
from helpcrunch_async.testing import Account, Drift, Faults, WireVariants, max_in_any_window

if TYPE_CHECKING:
    from collections.abc import Callable

    from helpcrunch_async.testing._thread import ThreadedEmulator


def _client(emulator: ThreadedEmulator, concurrency: int = 4) -> HelpCrunch:
    return HelpCrunch(
        emulator.api_key,
        base_url=emulator.base_url,
        rate_limit=2000,
        rate_period=1.0,
        concurrency=concurrency,
    )


async def test_count_is_one_request_with_or_without_filters(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    emulator = helpcrunch_emulator_factory(customers=700, seed=2)
    async with _client(emulator) as client:
        assert await count_customers(client.customers) == 700
        some = await count_customers(
            client.customers, [Filter("customers.lastSeen", ">=", 1_600_000_000)]
        )
    assert 0 < some < 700
    assert len(emulator.log) == 2


async def test_find_deleted_counts_ranges_and_reads_few(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    # Customers created while it runs must not be mistaken for anything.
    emulator = helpcrunch_emulator_factory(
        customers=6_000,
        seed=9,
        drift=[Drift(after_request=k, insert=3, position="random") for k in (2, 5, 9)],
    )
    held = emulator.expected_ids()
    gone = sorted(emulator.delete(7, "random"))
    emulator.reset_log()
    async with _client(emulator) as client:
        found = await reconcile_ids(client.customers, held)
    assert found.deleted == gone
    assert found.unknown == []
    assert found.requests == len(emulator.log)
    assert len(emulator.log) <= deletion_request_bound(len(held), 7)
    assert len(emulator.log) < 6_000 // 100


async def test_find_deleted_of_nothing_held_sends_nothing(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    emulator = helpcrunch_emulator_factory(customers=10)
    async with _client(emulator) as client:
        assert await find_deleted(client.customers, []) == []
        with pytest.raises(InvalidParameterError, match="known_ids"):
            await find_deleted(client.customers, ["12"])  # type: ignore[list-item]  # a wrong type on purpose
    assert emulator.log == []


@pytest.mark.parametrize(
    "known",
    [None, 12, "12", [0], [-1, 5], [True], [2**63], [1.5]],
    ids=["none", "int", "str", "zero", "negative", "bool", "beyond-int64", "float"],
)
async def test_find_deleted_refuses_what_holds_no_customer_ids_before_any_request(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], known: object
) -> None:
    emulator = helpcrunch_emulator_factory(customers=10)
    async with _client(emulator) as client:
        with pytest.raises(InvalidParameterError, match="known_ids"):
            await client.customers.find_deleted(known)  # type: ignore[arg-type]  # on purpose
    assert emulator.log == []


async def test_find_deleted_fails_at_once_on_a_count_no_id_range_can_hold(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    # A made-up total (10**12 customers in a range of a few thousand ids) would
    # otherwise be split and counted for ever.
    emulator = helpcrunch_emulator_factory(customers=200, faults=Faults(fake_total=10**12))
    held = emulator.expected_ids()
    async with _client(emulator) as client:
        with pytest.raises(IncompleteScanError, match="holds at most"):
            await client.customers.find_deleted(held)
    assert len(emulator.log) <= 2


async def test_iter_changed_yields_the_visited_and_the_new_once_despite_visits_during_the_scan(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    # Visits while the scan runs (its requests are the 2nd and later): customers
    # move to the end of the lastSeen order.
    emulator = helpcrunch_emulator_factory(
        customers=3_000, seed=5, drift=[Drift(after_request=k, visits=15) for k in range(2, 11)]
    )
    async with _client(emulator) as client:
        since = await customers_high_water(client.customers)
    assert since is not None
    after_id = max(emulator.expected_ids())
    visited = set(emulator.visit(count=450))
    new = set(emulator.insert(120, "random"))
    high = max(int(c["lastSeen"] or 0) for c in emulator.truth_customers())
    emulator.reset_log()
    async with _client(emulator) as client:
        changed = iter_changed_customers(client.customers, since + 1, after_id, overlap=0)
        ids = [c.id async for c in changed]
    assert len(ids) == len(set(ids))
    # Every customer seen since `since` when the call began is yielded, those
    # who visit again during the scan included.
    assert visited | new <= set(ids)
    now = {c["id"]: int(c["lastSeen"] or 0) for c in emulator.truth_customers()}
    during = {i for i, seen in now.items() if seen > high}
    assert during - visited
    # Nothing unchanged slips in: the rest visited during the scan.
    assert set(ids) <= visited | new | during


async def test_a_customer_seen_before_the_call_and_again_during_it_is_yielded(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    # The harness: 330 visits, then 20 of those visit again while the scan runs.
    # The scan's upper bound, taken at its start, used to exclude their new
    # lastSeen: 310 yielded, the 20 missing.
    emulator = helpcrunch_emulator_factory(customers=3_000, seed=11)
    async with _client(emulator) as client:
        since = await customers_high_water(client.customers)
    assert since is not None
    visited = emulator.visit(count=330)
    # The last 20 visitors: still ahead of the scan after its first page.
    again = visited[-20:]
    ids: list[int] = []
    async with _client(emulator) as client:
        changed = iter_changed_customers(client.customers, since + 1, overlap=0)
        async for customer in changed:
            ids.append(customer.id)
            if len(ids) == 1:
                # After the first page: 20 of those not read yet visit again.
                emulator.visit(again)
    assert len(ids) == len(set(ids))
    assert set(ids) == set(visited)


async def test_changed_chats_are_yielded_though_they_change_again_during_the_scan(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    emulator = helpcrunch_emulator_factory(customers=50, chats=600, seed=8)
    async with _client(emulator) as client:
        page = await client.chats.list(limit=1, sort="chats.lastMessageAt", order="desc")
    since = int(page.data[0].last_message_at or 0) + 1
    chat_ids = emulator.expected_chat_ids()
    moved = random.Random(2).sample(chat_ids, 150)
    for chat_id in moved:
        emulator.add_messages(chat_id, 1)
    ids: list[int] = []
    async with _client(emulator) as client:
        async for chat in iter_changed_chats(client.chats, since, overlap=0):
            ids.append(chat.id)
            if len(ids) == 1:
                for chat_id in moved[:40]:
                    emulator.close_chat(chat_id)
    assert len(ids) == len(set(ids))
    assert set(moved) <= set(ids)


@pytest.mark.parametrize("page_cap", [80, 50])
async def test_find_deleted_under_a_page_cap_finds_exactly_the_deleted(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], page_cap: int
) -> None:
    # A server that serves at most 80 (or 50) a page: nothing deleted must
    # report nothing, one deletion among 3,000 exactly one.
    emulator = helpcrunch_emulator_factory(customers=80, faults=Faults(page_cap=page_cap))
    async with _client(emulator) as client:
        assert await client.customers.find_deleted(emulator.expected_ids()) == []
    emulator = helpcrunch_emulator_factory(
        customers=3_000, seed=3, faults=Faults(page_cap=page_cap)
    )
    held = emulator.expected_ids()
    gone = emulator.delete(1, "random")
    async with _client(emulator) as client:
        assert await client.customers.find_deleted(held) == gone


async def test_iter_changed_under_a_page_cap_misses_no_visit(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    # The change scan by key used to stop at the first page shorter than 100:
    # 71 of 120 visits missed under a cap of 50.
    emulator = helpcrunch_emulator_factory(customers=2_000, seed=12, faults=Faults(page_cap=50))
    async with _client(emulator) as client:
        since = await customers_high_water(client.customers)
    assert since is not None
    visited = set(emulator.visit(count=120))
    async with _client(emulator) as client:
        ids = [c.id async for c in client.customers.iter_changed(since + 1, overlap=0)]
    assert set(ids) == visited


async def test_new_chats_and_messages_under_a_page_cap_all_arrive(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    emulator = helpcrunch_emulator_factory(
        customers=50,
        chats=200,
        seed=13,
        account=Account(messages_per_chat=60.0),
        faults=Faults(page_cap=30),
    )
    top = max(emulator.expected_chat_ids())
    async with _client(emulator) as client:
        page = await client.chats.list(limit=1, sort="chats.lastMessageAt", order="desc")
        since = int(page.data[0].last_message_at or 0) + 1
        opened = set(emulator.add_chats(75))
        found = {c.id async for c in client.chats.iter_changed(since, top, overlap=0)}
        assert opened <= found
        every = emulator.expected_chat_ids()[:40]
        news = {
            chat_id: [m.id for m in messages]
            async for chat_id, messages in iter_new_messages(client.chats, every, since=None)
        }
    assert news == {c: [m["id"] for m in emulator.truth_messages(c)] for c in every}


async def test_new_messages_listed_oldest_first_are_all_found(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    # The incremental read assumed newest first and stopped at the first old
    # message: 57 of 60 new messages missed on a server that lists oldest first.
    emulator = helpcrunch_emulator_factory(
        customers=50,
        chats=30,
        seed=14,
        account=Account(messages_per_chat=150.0),
        variants=WireVariants(messages_order="oldest"),
    )
    async with _client(emulator) as client:
        page = await client.chats.list(limit=1, sort="chats.lastMessageAt", order="desc")
    since = int(page.data[0].last_message_at or 0) + 1
    chat_ids = emulator.expected_chat_ids()[:6]
    added = {chat_id: emulator.add_messages(chat_id, 10) for chat_id in chat_ids}
    async with _client(emulator) as client:
        news = {
            chat_id: sorted(m.id for m in messages)
            async for chat_id, messages in iter_new_messages(client.chats, chat_ids, since=since)
        }
    assert news == {chat_id: sorted(ids) for chat_id, ids in added.items()}


async def test_the_clients_concurrency_bounds_the_deletion_count_and_the_messages(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    # Both reads hard-coded 8 requests at once; the client says 2. A request
    # is answered `latency` after it arrives, so with 2 in flight no 3
    # arrivals fall within one latency of each other.
    latency = 0.05
    emulator = helpcrunch_emulator_factory(customers=5_000, chats=40, seed=15, latency=latency)
    held = emulator.expected_ids()
    emulator.delete(12, "random")
    emulator.reset_log()
    async with _client(emulator, concurrency=2) as client:
        await reconcile_ids(client.customers, held)
        counted = [e.time for e in emulator.log]
        emulator.reset_log()
        async for _ in iter_new_messages(client.chats, emulator.expected_chat_ids(), since=None):
            pass
        read = [e.time for e in emulator.log]
    assert len(counted) > 12
    assert len(read) >= 40
    assert max_in_any_window(counted, latency * 0.9) <= 2
    assert max_in_any_window(read, latency * 0.9) <= 2


async def test_arguments_are_refused_before_any_request(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    emulator = helpcrunch_emulator_factory(customers=10)
    async with _client(emulator) as client:
        for bad in ("1700000000", -1, True):
            with pytest.raises(InvalidParameterError, match="since"):
                iter_changed_customers(client.customers, bad)  # type: ignore[arg-type]  # on purpose
        with pytest.raises(InvalidParameterError, match="overlap"):
            iter_changed_chats(client.chats, 1, overlap=-5)
    assert emulator.log == []


async def test_changed_chats_and_only_their_new_messages(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    emulator = helpcrunch_emulator_factory(customers=50, chats=300, seed=4)
    top = max(emulator.expected_chat_ids())
    rng = random.Random(3)
    chat_ids = rng.sample(emulator.expected_chat_ids(), 6)
    async with _client(emulator) as client:
        page = await client.chats.list(limit=1, sort="chats.lastMessageAt", order="desc")
    since = int(page.data[0].last_message_at or 0) + 1
    emulator.add_messages(chat_ids[0], 2)
    emulator.close_chat(chat_ids[1])
    emulator.reassign_chat(chat_ids[2], None)
    opened = set(emulator.add_chats(3))
    emulator.reset_log()
    async with _client(emulator) as client:
        changed = [c.id async for c in iter_changed_chats(client.chats, since, top, overlap=0)]
        assert set(changed) == {*chat_ids[:3], *opened}
        assert len(changed) == len(set(changed))
        searches = len(emulator.log)
        emulator.reset_log()
        news = [
            (chat_id, [m.id for m in messages])
            async for chat_id, messages in iter_new_messages(client.chats, changed, since=since)
        ]
    assert [chat_id for chat_id, _ in news] == changed
    expected = {
        chat_id: [m["id"] for m in emulator.truth_messages(chat_id) if int(m["createdAt"]) >= since]
        for chat_id in changed
    }
    assert dict(news) == expected
    assert len(emulator.log) == len(changed)  # one page each: few new messages
    assert searches <= 2 + 1


async def test_a_failed_count_raises_the_clients_error_not_a_group(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    emulator = helpcrunch_emulator_factory(customers=1_000)
    held = emulator.expected_ids()
    emulator.delete(3, "random")
    async with _client(emulator) as client:
        # The key is revoked after the client was made.
        emulator.configure(api_key="another-key")
        with pytest.raises(AuthenticationError):
            await find_deleted(client.customers, held)


async def test_the_contract_names_on_the_client(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    emulator = helpcrunch_emulator_factory(customers=900, chats=30, seed=6)
    held = emulator.expected_ids()
    top_chat = max(emulator.expected_chat_ids())
    async with _client(emulator) as client:
        since = await customers_high_water(client.customers)
        chats_since = await client.chats.list(limit=1, sort="chats.lastMessageAt", order="desc")
        assert since is not None
        gone = sorted(emulator.delete(2, "random"))
        visited = set(emulator.visit(count=7)) - set(gone)
        new_chats = set(emulator.add_chats(2))
        assert await client.customers.count() == 898
        assert await client.customers.count([Filter("customers.lastSeen", ">", since)]) == 7
        assert await client.customers.find_deleted(held) == gone
        changed = [
            c.id async for c in client.customers.iter_changed(since + 1, max(held), overlap=0)
        ]
        assert set(changed) == visited
        chats = client.chats.iter_changed(
            int(chats_since.data[0].last_message_at or 0) + 1, top_chat, overlap=0
        )
        assert {c.id async for c in chats} == new_chats
