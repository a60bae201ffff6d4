"""Writes through the client fire the webhooks HelpCrunch would send, end to end on loopback.

Each test writes with the real client (`HelpCrunch` over loopback) to an emulator that
delivers to a `WebhookCollector`; what arrived is verified by the collector and decoded
by `webhooks.parse` into its typed event.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

import helpcrunch_async as hc
from helpcrunch_async import webhooks
from helpcrunch_async.testing import (
    Emulator,
    Readings,
    RetrySchedule,
    WebhookCollector,
    WebhookSettings,
    WriteFaults,
)
from helpcrunch_async.testing._chat_records import APPLICATION_IDS
from helpcrunch_async.testing._team import FIRST_AGENT_ID

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable

pytestmark = pytest.mark.timeout(60)

KEY = "write-hooks-key"
FAST = RetrySchedule(delays=(0.01, 0.01, 0.01), scale=1.0)
AGENT = FIRST_AGENT_ID
APP = APPLICATION_IDS[0]  # the widget


class Harness:
    """An emulator delivering to a collector, a client writing to it, and what arrived."""

    def __init__(self, emu: Emulator, client: hc.HelpCrunch, collector: WebhookCollector) -> None:
        self.emu = emu
        self.client = client
        self.collector = collector
        self._seen: set[str] = set()

    async def fired(self, write: Awaitable[Any]) -> tuple[Any, list[webhooks.Event]]:
        """Run ``write``; return its result and the events it fired, parsed, in order."""
        result = await write
        return result, await self.new_events()

    async def new_events(self) -> list[webhooks.Event]:
        """Wait until every delivery settled; return the events not returned before."""
        async with asyncio.timeout(20):
            await self.emu.webhooks_settled()
        events: list[webhooks.Event] = []
        for delivery in self.collector.deliveries:
            assert delivery.verified, delivery
            headers = {webhooks.SIGNATURE_HEADER: delivery.signature or ""}
            event = webhooks.parse(delivery.body, headers, self.collector.secret, tolerance=None)
            if event.id not in self._seen:
                self._seen.add(event.id)
                events.append(event)
        return events

    async def names(self, write: Awaitable[Any]) -> list[str]:
        """Run ``write``; return the names of the events it fired, in order."""
        await write
        return await self.new_names()

    async def new_names(self) -> list[str]:
        """Return the names of the events fired since the last look, in order."""
        return [name_of(event) for event in await self.new_events()]


def name_of(event: webhooks.Event) -> str:
    return next(name for name, cls in webhooks.EVENT_TYPES.items() if type(event) is cls)


@contextlib.asynccontextmanager
async def harness(**options: Any) -> AsyncIterator[Harness]:
    options.setdefault("webhook_settings", WebhookSettings(schedule=FAST, timeout=5.0))
    async with WebhookCollector() as collector:
        emu = Emulator(
            customers=30, chats=4, api_key=KEY, webhooks=[collector.subscription()], **options
        )
        async with (
            emu,
            hc.HelpCrunch(KEY, base_url=emu.base_url, backoff=0.01, max_backoff=0.05) as client,
        ):
            yield Harness(emu, client, collector)


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    async with harness() as made:
        yield made


def a_customer_with_tags(emu: Emulator) -> dict[str, Any]:
    return next(c for c in emu.truth_customers() if c["tags"] and c["email"])


# -- customers --------------------------------------------------------------------------


async def test_create_fires_customer_new_with_the_record(h: Harness) -> None:
    created, events = await h.fired(
        h.client.customers.create(name="Ann", email="ann@example.org", user_id="crm-77")
    )
    [event] = events
    assert isinstance(event, webhooks.CustomerNew)
    assert event.customer_id == created.id
    assert (event.customer.email, event.customer.user_id) == ("ann@example.org", "crm-77")


async def test_update_fires_what_changed_and_nothing_when_nothing_did(h: Harness) -> None:
    customer = a_customer_with_tags(h.emu)
    ident = customer["id"]
    _, events = await h.fired(h.client.customers.update(ident, email="new@example.org"))
    [event] = events
    assert isinstance(event, webhooks.CustomerEmailUpdated)
    assert (event.customer_id, event.customer.email) == (ident, "new@example.org")
    # The same email again, or a field no event is about: the rule fires nothing.
    assert await h.names(h.client.customers.update(ident, email="new@example.org")) == []
    assert await h.names(h.client.customers.update(ident, company="Acme")) == []
    assert await h.names(h.client.customers.update(ident, email=None)) == ["customer.email_updated"]


async def test_replace_fires_the_email_and_the_tags_it_cleared(h: Harness) -> None:
    customer = a_customer_with_tags(h.emu)
    _, events = await h.fired(h.client.customers.replace(customer["id"], name="Only a name"))
    assert [name_of(e) for e in events] == ["customer.email_updated", "customer.tags_changed"]
    tags_changed = events[1]
    assert isinstance(tags_changed, webhooks.CustomerTagsChanged)
    assert tags_changed.customer_id == customer["id"]
    assert tags_changed.customer.tags == []


@pytest.mark.parametrize("reading", ["merge", "replace"])
async def test_batch_fires_one_event_per_item_changed(reading: str) -> None:
    """Under either reading of batch items the client's whole records fire the same events."""
    async with harness(readings=Readings(batch_items=reading)) as h:
        await batch_fires_one_event_per_item_changed(h)


async def batch_fires_one_event_per_item_changed(h: Harness) -> None:
    first, second, third = (c["id"] for c in h.emu.truth_customers()[:3])
    results, events = await h.fired(
        h.client.customers.update_many(
            [
                {"id": first, "email": "one@example.org"},
                {"id": second, "notes": "no event for notes"},
                {"id": third, "email": "three@example.org"},
                {"id": 999_999_999, "email": "nobody@example.org"},
            ]
        )
    )
    assert [r.status for r in results] == ["updated", "updated", "updated", "not_found"]
    assert all(isinstance(e, webhooks.CustomerEmailUpdated) for e in events)
    assert [e.customer_id for e in events if isinstance(e, webhooks.CustomerEvent)] == [
        first,
        third,
    ]


async def test_tag_and_untag_fire_tags_changed_once_each(h: Harness) -> None:
    customer = a_customer_with_tags(h.emu)
    ident = customer["id"]
    _, events = await h.fired(h.client.customers.tag(ident, ["Webhooked"]))
    [event] = events
    assert isinstance(event, webhooks.CustomerTagsChanged)
    assert "Webhooked" in [tag.name for tag in event.customer.tags]
    held = customer["tags"][0]["name"]
    assert await h.names(h.client.customers.tag(ident, [held])) == []
    assert await h.names(h.client.customers.untag(ident, ["Webhooked"])) == [
        "customer.tags_changed"
    ]
    assert await h.names(h.client.customers.untag(ident, ["never-had-it"])) == []


async def test_delete_fires_customer_deleted_with_the_record_as_it_was(h: Harness) -> None:
    customer = h.emu.truth_customers()[0]
    _, events = await h.fired(h.client.customers.delete(customer["id"]))
    [event] = events
    assert isinstance(event, webhooks.CustomerDeleted)
    assert (event.customer_id, event.customer.email) == (customer["id"], customer["email"])


async def test_an_event_fires_no_webhook(h: Harness) -> None:
    ident = h.emu.truth_customers()[0]["id"]
    assert await h.names(h.client.customers.add_event(ident, "Upgraded", data={"p": 1})) == []


async def test_refused_writes_fire_nothing(h: Harness) -> None:
    taken = await h.client.customers.create(user_id="crm-1", email="a@example.org")
    assert await h.new_names() == ["customer.new"]
    with pytest.raises(hc.BadRequestError):
        await h.client.customers.create(user_id="crm-1", email="b@example.org")
    other = h.emu.truth_customers()[0]["id"]
    with pytest.raises(hc.BadRequestError):
        await h.client.customers.update(other, user_id="crm-1", email="c@example.org")
    with pytest.raises(hc.NotFoundError):
        await h.client.customers.tag(999_999_999, ["X"])
    chat = await h.client.chats.create(customer=taken.id, application=APP)
    assert await h.new_names() == ["chat.new"]
    with pytest.raises(hc.BadRequestError):  # rated before it was closed
        await h.client.chats.rate(chat.id, "great")
    assert await h.new_names() == []
    refused = [e.status for e in h.emu.log if e.status >= 400]
    assert refused == [400, 400, 404, 400]


async def test_a_write_applied_then_failed_fires_once(h: Harness) -> None:
    """An update whose answer is a 500 was applied: it fires; the client's retry changes nothing."""
    ident = a_customer_with_tags(h.emu)["id"]
    h.emu.write_faults = WriteFaults(fail={1: "500"})
    updated, events = await h.fired(h.client.customers.update(ident, email="once@example.org"))
    assert updated.email == "once@example.org"
    assert [name_of(e) for e in events] == ["customer.email_updated"]
    assert [e.status for e in h.emu.log if e.method == "PATCH"] == [500, 200]


# -- chats and messages -------------------------------------------------------------------


async def test_a_new_chat_and_its_messages_fire_their_events(h: Harness) -> None:
    customer = h.emu.truth_customers()[0]["id"]
    client = h.client
    chat, events = await h.fired(client.chats.create(customer=customer, application=APP))
    [new] = events
    assert isinstance(new, webhooks.ChatNew)
    assert (new.chat_id, new.customer_id, new.chat.status) == (chat.id, customer, "empty")

    asked, events = await h.fired(client.chats.send_message(chat.id, "Any update?"))
    assert [name_of(e) for e in events] == ["message.chat.customer", "chat.status_updated"]
    message = events[0]
    assert isinstance(message, webhooks.MessageChatCustomer)
    assert (message.chat_id, message.message.id, message.message.text) == (
        chat.id,
        asked.id,
        "Any update?",
    )
    assert message.agent is None

    reply, events = await h.fired(client.chats.send_message(chat.id, "On it", agent=AGENT))
    assert [name_of(e) for e in events] == ["message.chat.agent", "chat.status_updated"]
    answer = events[0]
    assert isinstance(answer, webhooks.MessageChatAgent)
    assert answer.message.id == reply.id
    assert answer.agent is not None
    assert answer.agent.id == AGENT

    note, events = await h.fired(
        client.chats.send_message(chat.id, "VIP", agent=AGENT, private=True)
    )
    [private] = events
    assert isinstance(private, webhooks.MessagePrivate)
    assert private.message.id == note.id

    await client.chats.set_status(chat.id, "closed")
    assert await h.new_names() == ["chat.status_updated", "chat.closed"]
    # A customer writing into the closed chat reopens it.
    assert await h.names(client.chats.send_message(chat.id, "One more thing")) == [
        "message.chat.customer",
        "chat.status_updated",
    ]


async def test_a_private_note_moves_no_status(h: Harness) -> None:
    """A note the customer never sees fires message.private alone: the chat stays new."""
    customer = h.emu.truth_customers()[0]["id"]
    chat = await h.client.chats.create(customer=customer, application=APP)
    await h.client.chats.send_message(chat.id, "Hello?")
    assert await h.new_names() == [
        "chat.new",
        "message.chat.customer",
        "chat.status_updated",
    ]
    note = h.client.chats.send_message(chat.id, "Looks like a lead", agent=AGENT, private=True)
    assert await h.names(note) == ["message.private"]
    assert (await h.client.chats.get(chat.id)).status == "new"


async def test_chat_updates_fire_what_the_difference_fires(h: Harness) -> None:
    customer = h.emu.truth_customers()[0]["id"]
    client = h.client
    chat = await client.chats.create(customer=customer, application=APP)
    await client.chats.send_message(chat.id, "Hello", agent=AGENT)
    assert await h.new_names() == [
        "chat.new",
        "message.chat.agent",
        "chat.status_updated",
    ]
    _, events = await h.fired(client.chats.assign(chat.id, AGENT))
    [assigned] = events
    assert isinstance(assigned, webhooks.ChatAssigned)
    assert assigned.chat.assignee is not None
    assert assigned.chat.assignee.id == AGENT
    assert await h.names(client.chats.assign(chat.id, AGENT)) == []
    assert await h.names(client.chats.unassign(chat.id)) == ["chat.assigned"]
    department = h.emu.team.departments[0].id
    assert await h.names(client.chats.set_department(chat.id, department)) == []
    assert await h.names(client.chats.mark_read(chat.id, by="agent")) == []

    until = datetime(2031, 5, 1, 12, tzinfo=UTC)
    _, events = await h.fired(client.chats.snooze(chat.id, until))
    [snoozed] = events
    assert isinstance(snoozed, webhooks.ChatSnoozed)
    assert snoozed.chat.snoozed_until == int(until.timestamp())
    assert await h.names(client.chats.snooze(chat.id, None)) == ["chat.unsnoozed"]

    assert await h.names(client.chats.set_status(chat.id, "pending")) == ["chat.status_updated"]
    assert await h.names(client.chats.set_status(chat.id, "pending")) == []
    _, events = await h.fired(client.chats.set_status(chat.id, "closed"))
    assert [name_of(e) for e in events] == ["chat.status_updated", "chat.closed"]
    closed = events[1]
    assert isinstance(closed, webhooks.ChatClosed)
    assert (closed.chat_id, closed.chat.status) == (chat.id, "closed")

    _, events = await h.fired(client.chats.rate(chat.id, "great"))
    [rated] = events
    assert isinstance(rated, webhooks.ChatRated)
    assert rated.chat.rating == "great"


# -- one clock ------------------------------------------------------------------------------


async def test_writes_and_webhooks_read_one_clock() -> None:
    now = 2_000_000_000.0
    settings = WebhookSettings(schedule=FAST, timeout=5.0, clock=lambda: now)
    async with harness(webhook_settings=settings) as h:
        customer = h.emu.truth_customers()[0]["id"]
        chat, events = await h.fired(h.client.chats.create(customer=customer, application=APP))
    [new] = events
    assert isinstance(new, webhooks.ChatNew)
    assert chat.created_at == new.created_at == new.chat.created_at == int(now)


def test_two_clocks_are_refused() -> None:
    def ours() -> float:
        return 1.0

    def theirs() -> float:
        return 2.0

    with pytest.raises(ValueError, match="two clocks"):
        Emulator(clock=ours, webhook_settings=WebhookSettings(clock=theirs))


def test_one_clock_given_once_serves_both() -> None:
    def ours() -> float:
        return 1.0

    emu = Emulator(clock=ours)
    assert emu.webhooks.sender.clock is ours
    same = Emulator(clock=ours, webhook_settings=WebhookSettings(clock=ours))
    assert same.webhooks.sender.clock is ours
