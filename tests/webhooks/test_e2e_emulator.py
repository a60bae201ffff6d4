"""End to end: the emulator delivers to our receivers (uvicorn, aiohttp.web) through faults.

The emulator changes its account and triggers every documented type; its sender
duplicates, reorders, loses, mis-signs and overlaps attempts and retries each failure
on a compressed schedule; the handler fails its first two calls. Every event must be
handled exactly once, none lost, and the duplicates acknowledged without a call.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest
from webhook_servers import KINDS, SECRET, serve

from helpcrunch_async.testing import (
    DeliveryFaults,
    Emulator,
    RetrySchedule,
    Subscription,
    WebhookSettings,
)
from helpcrunch_async.testing._webhook_events import EVENT_TYPES, event_id

if TYPE_CHECKING:
    from pathlib import Path

    from helpcrunch_async import webhooks

ID_SEED = 18
FAULTS = DeliveryFaults(
    duplicate_rate=0.3,
    reorder_rate=0.3,
    reorder_wait=0.05,
    loss_rate=0.1,
    bad_signature_rate=0.1,
    overlap_rate=0.1,
    delay_jitter=0.002,
    seed=11,
)
SETTINGS = WebhookSettings(
    schedule=RetrySchedule(delays=(0.02,) * 12), faults=FAULTS, timeout=5.0, id_seed=ID_SEED
)


class FlakyHandler:
    """Records every event it handles; raises on its first ``failures`` calls.

    Each call takes ``pause`` seconds, so that copies delivered together overlap in it.
    """

    def __init__(self, failures: int, pause: float = 0.0) -> None:
        self.failures = failures
        self.pause = pause
        self.calls = 0
        self.handled: list[str] = []
        self.changed = asyncio.Event()

    async def __call__(self, event: webhooks.Event) -> None:
        self.calls += 1
        number = self.calls
        await asyncio.sleep(self.pause)
        if number <= self.failures:
            raise RuntimeError(f"failure {number} on purpose")
        self.handled.append(event.id)
        self.changed.set()

    async def wait_for(self, ids: set[str]) -> None:
        async with asyncio.timeout(30):
            while not ids <= set(self.handled):
                self.changed.clear()
                await self.changed.wait()


def change_the_account(emu: Emulator) -> None:
    """Make changes of every kind the emulator emits for, and trigger every type."""
    emu.insert(4, "end")
    emu.delete(ids=emu.insert(1, "end"))
    for chat_id in emu.add_chats(3):
        emu.add_messages(chat_id, 2)
    first, second = emu.expected_chat_ids()[:2]
    emu.close_chat(first)
    emu.reassign_chat(second, None)
    for name in EVENT_TYPES:
        emu.trigger(name)


async def run_scenario(url: str, handler: FlakyHandler) -> tuple[Emulator, set[str]]:
    hook = Subscription(url, SECRET)
    emu = Emulator(customers=200, chats=10, webhooks=[hook], webhook_settings=SETTINGS)
    async with emu:
        change_the_account(emu)
        async with asyncio.timeout(60):
            await emu.webhooks_settled()
        expected = {record.event_id for record in emu.deliveries}
        await handler.wait_for(expected)
    return emu, expected


def check_exactly_once(emu: Emulator, handler: FlakyHandler, expected: set[str]) -> None:
    stats = emu.webhooks.sender.stats()
    assert stats["given_up"] == 0
    assert stats["pending"] == 0
    assert len(expected) == stats["events"] > 40
    # Exactly once, none lost.
    assert len(handler.handled) == len(set(handler.handled))
    assert set(handler.handled) == expected
    assert handler.calls == len(expected) + 2
    records = emu.deliveries
    # Every fault happened, and the receiver answered each as it should.
    duplicates = [r for r in records if r.outcome == "duplicate"]
    assert duplicates
    assert {r.status for r in duplicates} == {200}  # acknowledged, the handler not called
    assert {r.status for r in records if r.bad_signature} == {401}
    assert any(r.outcome == "lost" for r in records)
    assert any(r.outcome == "overlapped" for r in records)
    emitted = [event_id(ID_SEED, n) for n in range(1, len(expected) + 1)]
    first_delivered = list(dict.fromkeys(r.event_id for r in records if r.outcome == "delivered"))
    assert first_delivered != emitted  # reordered (and retried) on the way
    assert sorted(first_delivered) == sorted(emitted)


@pytest.mark.parametrize("kind", KINDS)
async def test_every_event_handled_exactly_once_through_the_faults(kind: str) -> None:
    handler = FlakyHandler(failures=2)
    async with serve(kind, handler, clock=time.time) as url:
        emu, expected = await run_scenario(url, handler)
    check_exactly_once(emu, handler, expected)
    failed = [r for r in emu.deliveries if r.status == 500]
    assert len(failed) == 2  # the handler's two failures, each delivered again later


@pytest.mark.parametrize("kind", KINDS)
async def test_a_spooling_receiver_acknowledges_at_once_and_loses_nothing(
    kind: str, tmp_path: Path
) -> None:
    handler = FlakyHandler(failures=2)
    spool = tmp_path / "inbox.sqlite3"
    options = {"spool": spool, "retry_base": 0.01, "retry_cap": 0.05, "clock": time.time}
    async with serve(kind, handler, **options) as url:
        emu, expected = await run_scenario(url, handler)
    check_exactly_once(emu, handler, expected)
    # Acknowledged once stored: the handler's failures are retried by the worker, not by
    # HelpCrunch, so no delivery was answered 500.
    assert not [r for r in emu.deliveries if r.status == 500]


@pytest.mark.parametrize("kind", KINDS)
async def test_copies_delivered_together_while_the_handler_fails_lose_nothing(kind: str) -> None:
    # A sender that gives an attempt up while the handler still runs and retries at once:
    # the second copy meets the first in the handler, and only its answer counts. A
    # receiver that answers 2xx to a copy whose id is still in hand ("a duplicate") ends
    # the deliveries before the handler returned; when the first copy's handler then
    # fails, the event is lost. The in-hand copy must not be acknowledged (answer it
    # non-2xx, or wait for the first copy's outcome).
    handler = FlakyHandler(failures=2, pause=0.02)
    overlapping = WebhookSettings(
        schedule=RetrySchedule(delays=(0.02,) * 12),
        faults=DeliveryFaults(overlap_rate=1.0, seed=2),
        id_seed=ID_SEED,
    )
    async with serve(kind, handler, clock=time.time) as url:
        hook = Subscription(url, SECRET)
        async with Emulator(customers=20, webhooks=[hook], webhook_settings=overlapping) as emu:
            expected = {emu.trigger("customer.new") for _ in range(5)}
            async with asyncio.timeout(30):
                await emu.webhooks_settled()
            records = emu.deliveries
            assert emu.webhooks.sender.given_up == 0
    assert {r.outcome for r in records} >= {"overlapped", "delivered"}
    assert len(handler.handled) == len(set(handler.handled))
    assert set(handler.handled) == expected  # none lost
