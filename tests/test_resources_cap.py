"""One cap for the whole client: every resource draws on one budget, proved from the emulator's log.

The emulator shares the test's event loop, and its first answer of a kind (chats
sorted, a chat's messages) builds lazy tables for over 0.1 s, which holds back
the arrival stamps of requests already on the wire by more than the cap's
settling covers (a tenth of the period). A warm-up request of each kind, made
through the same client and so counted by its cap, takes that out of the proof.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import helpcrunch_async as hc
from helpcrunch_async.testing import Account, Emulator
from helpcrunch_async.testing._policies import max_in_any_window

KEY = "test-key"
R, W = 20, 1.0


async def drain(scan: Any) -> int:
    async with scan:
        return sum([1 async for _ in scan])


async def warm_up(client: hc.HelpCrunch, chat_id: int | None) -> None:
    await client.chats.list(limit=1)
    if chat_id is not None:
        await client.chats.messages(chat_id, limit=1)


async def test_every_resource_at_once_never_exceeds_the_one_cap() -> None:
    async with (
        Emulator(
            customers=900, chats=700, seed=7, api_key=KEY, policy="sliding", rate_limit=R,
            rate_period=W, latency=0.01,
            account=Account(agents=150, departments=120, messages_per_chat=40),
        ) as emu,
        hc.HelpCrunch(
            KEY, base_url=emu.base_url, rate_limit=R, rate_period=W, backoff=0.01, max_backoff=0.05
        ) as client,
    ):  # fmt: skip
        busiest = max(emu.expected_chat_ids()[:50], key=emu.message_count)
        await warm_up(client, busiest)
        counts = await asyncio.gather(
            drain(client.customers.iter_all()),
            drain(client.customers.iter_search([hc.Filter("customers.id", ">", 0)])),
            drain(client.chats.iter_all()),
            drain(client.chats.iter_search([hc.Filter("chats.createdAt", ">", 0)])),
            drain(client.chats.iter_messages(busiest)),
            drain(client.agents.iter_all()),
            drain(client.departments.iter_all()),
        )
        log = list(emu.log)
    per_path = Counter(e.path for e in log)
    assert counts[:4] == [900, 900, 700, 700]
    assert counts[5:] == [150, 120]
    assert set(per_path) >= {"/v1/customers", "/v1/chats", "/v1/agents", "/v1/departments"}
    assert len(log) >= 2 * R  # long enough that the cap had to bite
    assert [e.status for e in log if e.status != 200] == []
    assert max_in_any_window([e.time for e in log], W) <= R


async def test_two_clients_on_one_budget_share_the_cap_across_resources() -> None:
    budget = hc.LocalBudget(R, W)
    async with (
        Emulator(
            customers=1000, chats=1000, seed=1, api_key=KEY, policy="sliding",
            rate_limit=R, rate_period=W, latency=0.01,
        ) as emu,
        hc.HelpCrunch(KEY, base_url=emu.base_url, rate_budget=budget) as first,
        hc.HelpCrunch(KEY, base_url=emu.base_url, rate_budget=budget) as second,
    ):  # fmt: skip
        await warm_up(first, None)
        await asyncio.gather(
            drain(first.customers.iter_all()),
            drain(second.chats.iter_all()),
            drain(second.customers.iter_search([hc.Filter("customers.email", "~", "a")])),
        )
        log = list(emu.log)
    assert len(log) > R
    assert all(e.status == 200 for e in log)
    assert max_in_any_window([e.time for e in log], W) <= R
