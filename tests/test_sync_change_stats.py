"""``iter_changed`` returns a scan like every ``iter_*``: ``stats``, ``async with``, ``aclose``.

Against the emulator over loopback: the scan's counts are checked against the
emulator's log, and an early close against the tasks left and requests sent.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from helpcrunch_async import HelpCrunch
from helpcrunch_async.testing import Faults

if TYPE_CHECKING:
    from collections.abc import Callable

    from helpcrunch_async.testing._thread import ThreadedEmulator


def _client(emulator: ThreadedEmulator) -> HelpCrunch:
    return HelpCrunch(
        emulator.api_key,
        base_url=emulator.base_url,
        rate_limit=2000,
        rate_period=1.0,
        concurrency=4,
    )


def _last_seen(emulator: ThreadedEmulator) -> int:
    # From the emulator's data, not a request: the scan's requests are the log's.
    return max(int(c["lastSeen"] or 0) for c in emulator.truth_customers())


async def test_customers_iter_changed_counts_every_request_of_both_searches(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    # Pages of 50: several pages by key (lastSeen) and several on the scan
    # engine (the id search); two forced 503s are retried and counted too.
    emulator = helpcrunch_emulator_factory(
        customers=1_000, seed=4, faults=Faults(page_cap=50, fail={2: "503", 6: "503"})
    )
    since = _last_seen(emulator)
    after_id = max(emulator.expected_ids())
    visited = set(emulator.visit(count=130))
    new = set(emulator.insert(120, "random"))
    async with (
        _client(emulator) as client,
        client.customers.iter_changed(since + 1, after_id, overlap=0) as scan,
    ):
        ids = [c.id async for c in scan]
    assert set(ids) == visited | new
    stats = scan.stats
    assert stats.requests == len(emulator.log)
    assert stats.retries == 2
    assert stats.items == len(ids)
    # Each answered page once: every request but the two retried.
    assert stats.pages == stats.requests - stats.retries
    assert stats.pages > 2 * 130 // 50
    assert stats.finished_at is not None


async def test_chats_iter_changed_counts_its_searches_and_the_newest_chats(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    emulator = helpcrunch_emulator_factory(
        customers=50, chats=300, seed=6, faults=Faults(page_cap=40)
    )
    chats = emulator.truth_chats()
    # Past every timestamp the chats hold: only the newest end finds chats.
    since = 1 + max(
        v for c in chats for k, v in c.items() if k.endswith("At") and isinstance(v, int)
    )
    top = max(emulator.expected_chat_ids())
    opened = set(emulator.add_chats(90))
    async with (
        _client(emulator) as client,
        client.chats.iter_changed(since, top, overlap=0) as scan,
    ):
        ids = [c.id async for c in scan]
    assert opened <= set(ids)
    assert scan.stats.requests == len(emulator.log)
    assert scan.stats.pages == len(emulator.log)
    assert scan.stats.items == len(ids) == len(set(ids))


async def test_async_with_closes_an_iter_changed_left_early(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
) -> None:
    emulator = helpcrunch_emulator_factory(customers=1_000, seed=4, faults=Faults(page_cap=50))
    since = _last_seen(emulator)
    emulator.visit(count=300)
    async with _client(emulator) as client:
        async with client.customers.iter_changed(since + 1, overlap=0) as scan:
            async for _ in scan:
                break
        sent = len(emulator.log)
        assert [c async for c in scan] == []
        # Nothing left running: no request task, no read in the background.
        assert asyncio.all_tasks() == {asyncio.current_task()}
    assert sent == len(emulator.log) == scan.stats.requests == 1
    assert scan.stats.items == 1
    assert scan.stats.finished_at is not None
