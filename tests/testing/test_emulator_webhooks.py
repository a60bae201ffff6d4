"""The emulator's webhooks for real: signed deliveries over loopback to a recording receiver."""

from __future__ import annotations

import asyncio
import itertools
import traceback
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest

from helpcrunch_async import webhooks
from helpcrunch_async.testing import (
    DeliveryFaults,
    Drift,
    Emulator,
    RetrySchedule,
    Subscription,
    WebhookCollector,
    WebhookSettings,
)
from helpcrunch_async.testing._webhook_events import EVENT_TYPES

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from helpcrunch_async.testing import ReceivedWebhook, ThreadedCollector, ThreadedEmulator

FAST = RetrySchedule(delays=(0.01, 0.01, 0.01, 0.01), scale=1.0)


def ticking(start: int = 1_700_000_000) -> Callable[[], float]:
    """A clock that moves one second each time it is read: every attempt has its own time."""
    counter = itertools.count(start)
    return lambda: float(next(counter))


def settings(**changes: Any) -> WebhookSettings:
    return WebhookSettings(**{"schedule": FAST, "clock": ticking(), "timeout": 5.0, **changes})


@pytest.fixture
async def collector() -> AsyncIterator[WebhookCollector]:
    async with WebhookCollector() as receiver:
        yield receiver


async def settle(emu: Emulator) -> None:
    async with asyncio.timeout(20):
        await emu.webhooks_settled()


def parsed(delivery: ReceivedWebhook, secret: webhooks.SigningSecret) -> webhooks.Event:
    headers = {webhooks.SIGNATURE_HEADER: delivery.signature or ""}
    return webhooks.parse(delivery.body, headers, secret, tolerance=None)


# -- shapes ---------------------------------------------------------------------------


async def test_every_documented_type_is_triggered_signed_and_parses(
    collector: WebhookCollector,
) -> None:
    options = settings()
    async with Emulator(
        customers=30, chats=5, webhooks=[collector.subscription()], webhook_settings=options
    ) as emu:
        ids = [emu.trigger(event) for event in EVENT_TYPES]
        await settle(emu)
    assert len(EVENT_TYPES) == 20
    assert [d.envelope["id"] for d in collector.deliveries if d.envelope] == ids
    for delivery, name in zip(collector.deliveries, EVENT_TYPES, strict=True):
        assert delivery.verified
        assert delivery.status == 200
        event = parsed(delivery, collector.secret)
        assert isinstance(event, webhooks.EVENT_TYPES[name])
        envelope = delivery.envelope
        assert envelope is not None
        assert list(envelope) == [
            "event",
            "eventData",
            "attempts",
            "lastAttemptAt",
            "createdAt",
            "id",
        ]
        assert envelope["attempts"] == 0
        assert isinstance(envelope["createdAt"], int)
        assert isinstance(envelope["lastAttemptAt"], int)
        assert envelope["lastAttemptAt"] > envelope["createdAt"]


async def test_payloads_carry_the_documented_quirks(collector: WebhookCollector) -> None:
    async with Emulator(
        customers=30,
        chats=5,
        webhooks=[collector.subscription()],
        webhook_settings=settings(),
    ) as emu:
        chat_id = emu.expected_chat_ids()[0]
        chat = emu.chat(chat_id)
        assert chat is not None
        customer_id = chat["customer"]["id"]
        emu.trigger("chat.assigned", chat=chat_id)
        emu.trigger("customer.tags_changed", customer=customer_id)
        emu.trigger("message.chat.customer", chat=chat_id)
        emu.trigger("chat.rated", chat=chat_id, fields={"rating": "great"})
        await settle(emu)
        customer = emu.customer(customer_id)
    assert customer is not None
    chat_event, customer_event, message_event, rated = (d.envelope for d in collector.deliveries)
    assert chat_event is not None
    assert customer_event is not None
    assert message_event is not None
    assert rated is not None
    data = chat_event["eventData"]
    assert data["chat_id"] == chat_id
    assert "id" not in data
    assert data["communicatedAgents"] == [agent["id"] for agent in chat["agents"]]
    seconds, _, millis = data["createdAt"].partition(".")
    assert int(seconds) == chat["createdAt"]
    assert len(millis) == 3
    assert millis.isdigit()
    custom = customer_event["eventData"]["customData"]
    assert custom == {item["property"]: item["value"] for item in customer["customData"]}
    message = message_event["eventData"]
    assert message["chat_id"] == chat_id
    assert message["agent"] is None
    assert set(message["message"]) == {
        "applicationId",
        "broadcastType",
        "createdAt",
        "edited",
        "id",
        "read",
        "text",
        "updatedAt",
    }
    assert rated["eventData"]["rating"] == "great"


# -- what changes fire ------------------------------------------------------------------


async def test_each_change_to_the_account_fires_its_events(collector: WebhookCollector) -> None:
    async with Emulator(
        customers=40, chats=6, webhooks=[collector.subscription()], webhook_settings=settings()
    ) as emu:
        [new_customer] = emu.insert(1, "end")
        [gone] = emu.delete(ids=[new_customer])
        emu.visit(count=3)  # no documented event
        [new_chat] = emu.add_chats(1)
        open_chat = next(c["id"] for c in emu.truth_chats() if c["status"] != "closed")
        emu.add_messages(open_chat, 2)
        emu.close_chat(open_chat)
        emu.reassign_chat(open_chat, None)
        emu.delete_chats([new_chat])  # no documented event
        await settle(emu)
    names = [d.envelope["event"] for d in collector.deliveries if d.envelope]
    assert names[:3] == ["customer.new", "customer.deleted", "chat.new"]
    assert names[3] == "message.chat.customer"
    assert names[-3:] == ["chat.status_updated", "chat.closed", "chat.assigned"]
    posted = [n for n in names[4:] if n.startswith("message.")]
    assert posted == ["message.chat.customer", "message.chat.agent"]
    first, deleted = (d.envelope for d in collector.deliveries[:2])
    assert first is not None
    assert deleted is not None
    assert first["eventData"]["id"] == new_customer == gone
    assert deleted["eventData"] == first["eventData"]  # the record as it was before removal


async def test_a_write_reports_its_change_around_it(collector: WebhookCollector) -> None:
    # What the write routes do: a snapshot before the change, the difference after it.
    async with Emulator(
        customers=10, chats=3, webhooks=[collector.subscription()], webhook_settings=settings()
    ) as emu:
        customer_id = emu.expected_ids()[0]
        live = emu.customer(customer_id)
        assert live is not None
        before = {**live, "email": "old@example.org", "tags": [], "blocked": True}
        emu.webhooks.customer_changed(customer_id, before)
        await settle(emu)
        silent = Emulator(customers=10)
        assert silent.webhooks.customer_before(customer_id) is None  # nobody listens
    names = [d.envelope["event"] for d in collector.deliveries if d.envelope]
    assert names == ["customer.email_updated", "customer.tags_changed", "customer.unblocked"]


async def test_drift_fires_events_and_a_subscription_takes_only_its_types(
    collector: WebhookCollector,
) -> None:
    only = collector.subscription(["customer.new", "customer.deleted"])
    drift = [Drift(after_request=1, insert=2, delete=1, add_chats=1, close_chats=1)]
    async with Emulator(
        customers=40, chats=6, drift=drift, webhooks=[only], webhook_settings=settings()
    ) as emu:
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {emu.api_key}"}
            async with http.get(f"{emu.base_url}/customers", headers=headers) as response:
                assert response.status == 200
        await settle(emu)
    names = sorted(d.envelope["event"] for d in collector.deliveries if d.envelope)
    assert names == ["customer.deleted", "customer.new", "customer.new"]


async def test_each_subscription_gets_its_types_and_one_event_has_one_id(
    collector: WebhookCollector,
) -> None:
    async with WebhookCollector() as chats_only:
        hooks = [collector.subscription(), chats_only.subscription(["chat.new"])]
        async with Emulator(
            customers=10, chats=2, webhooks=hooks, webhook_settings=settings()
        ) as emu:
            chat_event = emu.trigger("chat.new")
            customer_event = emu.trigger("customer.new")
            await settle(emu)
    assert [e["id"] for e in collector.events] == [chat_event, customer_event]
    assert [e["id"] for e in chats_only.events] == [chat_event]
    assert chats_only.deliveries[0].verified  # signed with its own secret


async def test_nobody_subscribed_costs_nothing() -> None:
    async with Emulator(customers=20, chats=3) as emu:
        assert emu.trigger("chat.new") is None
        emu.add_chats(2)
        await settle(emu)
        assert emu.deliveries == []


# -- at least once ----------------------------------------------------------------------


async def test_a_failed_attempt_is_retried_with_attempts_and_a_fresh_signed_time() -> None:
    calls = itertools.count()

    def fail_twice(_: ReceivedWebhook) -> int:
        return 503 if next(calls) < 2 else 204

    async with (
        WebhookCollector(status=fail_twice) as receiver,
        Emulator(
            customers=5, webhooks=[receiver.subscription()], webhook_settings=settings()
        ) as emu,
    ):
        event_id = emu.trigger("customer.new")
        await settle(emu)
        outcomes = [(r.attempts, r.outcome, r.status) for r in emu.deliveries]
    assert outcomes == [(0, "refused", 503), (1, "refused", 503), (2, "delivered", 204)]
    envelopes = [d.envelope for d in receiver.deliveries]
    assert [e["attempts"] for e in envelopes if e] == [0, 1, 2]
    assert {e["id"] for e in envelopes if e} == {event_id}
    assert len({e["createdAt"] for e in envelopes if e}) == 1
    times = [e["lastAttemptAt"] for e in envelopes if e]
    assert times == sorted(set(times))
    assert len({d.signature for d in receiver.deliveries}) == 3
    assert all(d.verified for d in receiver.deliveries)


async def test_a_delivery_that_never_succeeds_is_given_up_after_the_schedule() -> None:
    async with (
        WebhookCollector(status=lambda _: 500) as receiver,
        Emulator(
            customers=5, webhooks=[receiver.subscription()], webhook_settings=settings()
        ) as emu,
    ):
        emu.trigger("customer.new")
        await settle(emu)
        stats = emu.webhooks.sender.stats()
    assert len(receiver.deliveries) == len(FAST.delays) + 1
    assert stats["given_up"] == 1
    assert stats["pending"] == 0


async def test_a_receiver_that_never_answers_times_out_and_stop_leaves_nothing_running() -> None:
    connections: list[asyncio.StreamWriter] = []
    third = asyncio.Event()

    async def hang(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        if len(connections) == 3:
            third.set()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hook = Subscription(f"http://127.0.0.1:{port}/hook", "s3cret")
    try:
        emu = Emulator(customers=5, webhooks=[hook], webhook_settings=settings(timeout=0.2))
        async with emu:
            emu.trigger("customer.new")
            async with asyncio.timeout(10):
                await third.wait()  # so the first two attempts timed out
            assert [r.outcome for r in emu.deliveries[:2]] == ["timeout", "timeout"]
            assert emu.webhooks.sender.pending == 1
        tasks = [t for t in asyncio.all_tasks() if t.get_name() == "helpcrunch-webhooks"]
        assert tasks == []
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_refused_connection_is_retried_like_any_failure() -> None:
    probe = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    hook = Subscription(f"http://127.0.0.1:{port}/", "s3cret")
    async with Emulator(customers=5, webhooks=[hook], webhook_settings=settings()) as emu:
        emu.trigger("customer.new")
        await settle(emu)
        assert {r.outcome for r in emu.deliveries} == {"error"}
        assert emu.webhooks.sender.given_up == 1


# -- faults -----------------------------------------------------------------------------


async def run_with_faults(faults: DeliveryFaults, events: int = 30) -> WebhookCollector:
    async with (
        WebhookCollector() as receiver,
        Emulator(
            customers=50,
            chats=5,
            webhooks=[receiver.subscription()],
            webhook_settings=settings(
                faults=faults, schedule=RetrySchedule((0.01,) * 8), id_seed=5
            ),
        ) as emu,
    ):
        for _ in range(events):
            emu.trigger("customer.new")
        await settle(emu)
        assert emu.webhooks.sender.given_up == 0
    return receiver


def what_arrived(receiver: WebhookCollector) -> list[tuple[Any, ...]]:
    """Each copy by event, attempt and verdict: what a seed repeats, whatever the timing."""
    arrived = [
        (d.envelope["id"], d.envelope["attempts"], d.verified, d.envelope["eventData"])
        for d in receiver.deliveries
        if d.envelope
    ]
    return sorted(arrived, key=repr)


async def test_faults_lose_nothing_and_repeat_with_their_seed() -> None:
    faults = DeliveryFaults(
        loss_rate=0.3,
        bad_signature_rate=0.2,
        duplicate_rate=0.3,
        reorder_rate=0.3,
        reorder_wait=0.05,
        seed=7,
    )
    first = await run_with_faults(faults)
    again = await run_with_faults(faults)
    assert len(first.events) == 30
    assert what_arrived(first) == what_arrived(again)
    assert any(not d.verified for d in first.deliveries)  # bad signatures, answered 401
    ids = [d.envelope["id"] for d in first.deliveries if d.verified and d.envelope]
    assert len(ids) > len(set(ids))  # duplicates
    created = [e["createdAt"] for e in first.events]
    assert created != sorted(created)  # reordered
    retried = [e for e in first.events if e["attempts"] > 0]
    assert retried  # lost attempts came again, with attempts > 0


async def test_reordering_swaps_an_event_with_the_next() -> None:
    receiver = await run_with_faults(DeliveryFaults(reorder_rate=0.5, seed=3), events=20)
    created = [e["createdAt"] for e in receiver.events]
    assert created != sorted(created)
    assert len(receiver.events) == 20


async def test_duplicates_are_the_same_bytes_and_event_data_may_come_as_a_string() -> None:
    faults = DeliveryFaults(duplicate_rate=1.0, string_data_rate=1.0)
    receiver = await run_with_faults(faults, events=3)
    bodies = [d.body for d in receiver.deliveries]
    assert len(bodies) == 6
    assert bodies[0::2] == bodies[1::2]
    for delivery in receiver.deliveries:
        assert isinstance(delivery.envelope, dict)
        assert isinstance(delivery.envelope["eventData"], str)
        event = parsed(delivery, receiver.secret)
        assert isinstance(event, webhooks.CustomerNew)


async def test_an_overlap_sends_the_next_attempt_beside_the_first() -> None:
    def refuse_the_next_attempt(delivery: ReceivedWebhook) -> int:
        return 503 if delivery.envelope and delivery.envelope["attempts"] == 1 else 200

    async with WebhookCollector(status=refuse_the_next_attempt) as receiver:
        faults = DeliveryFaults(overlap_rate=1.0)
        async with Emulator(
            customers=5,
            webhooks=[receiver.subscription()],
            webhook_settings=settings(faults=faults, schedule=RetrySchedule((0.01,) * 3)),
        ) as emu:
            emu.trigger("customer.new")
            await settle(emu)
            outcomes = [(r.attempts, r.outcome) for r in emu.deliveries]
    # Attempts 0 and 1 together; 1 refused, so 2 follows, beside 3 (delivered).
    assert sorted(outcomes) == [
        (0, "overlapped"),
        (1, "refused"),
        (2, "overlapped"),
        (3, "delivered"),
    ]
    assert sorted(d.envelope["attempts"] for d in receiver.deliveries if d.envelope) == [0, 1, 2, 3]
    assert all(d.verified for d in receiver.deliveries)


async def test_a_delay_holds_each_attempt() -> None:
    receiver = await run_with_faults(DeliveryFaults(delay=0.01, delay_jitter=0.01), events=3)
    assert len(receiver.events) == 3


# -- bounds and refusals ----------------------------------------------------------------


async def test_the_queue_is_bounded_and_overflow_is_counted(collector: WebhookCollector) -> None:
    emu = Emulator(
        customers=20, webhooks=[collector.subscription()], webhook_settings=settings(queue_size=2)
    )
    for _ in range(5):
        emu.trigger("customer.new")
    assert emu.webhooks.sender.overflowed == 3
    async with emu:
        await settle(emu)
    assert len(collector.events) == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "http://10.0.0.1/",
        "https://192.168.1.1:8443/x",
        "ftp://127.0.0.1/",
    ],
)
def test_only_loopback_urls_unless_allowed(url: str) -> None:
    with pytest.raises(ValueError, match=r"loopback|scheme"):
        Subscription(url, "s3cret")


def test_a_remote_url_needs_an_explicit_allowance() -> None:
    hook = Subscription("https://hooks.example.com/in", "s3cret", allow_remote=True)
    assert hook.target.tls
    assert hook.target.port == 443


def test_subscriptions_refuse_bad_arguments_and_never_show_the_secret() -> None:
    with pytest.raises(ValueError, match=r"unknown webhook event 'chats\.new'"):
        Subscription("http://127.0.0.1:9/", "s3cret", ["chats.new"])
    with pytest.raises(TypeError, match="secret"):
        Subscription("http://127.0.0.1:9/", "")
    with pytest.raises(TypeError, match="list of event types"):
        Subscription("http://127.0.0.1:9/", "s3cret", "chat.new")
    with pytest.raises(ValueError, match="at least one"):
        Subscription("http://127.0.0.1:9/", "s3cret", [])
    hook = Subscription("http://127.0.0.1:9/", "top-s3cret-value")
    assert "top-s3cret-value" not in repr(hook)
    assert "top-s3cret-value" not in repr(hook.secret)
    with pytest.raises(ValueError, match="retry"):
        RetrySchedule((1.0, -1.0))
    with pytest.raises(ValueError, match="loss_rate"):
        DeliveryFaults(loss_rate=1.5)
    with pytest.raises(ValueError, match="timeout"):
        WebhookSettings(timeout=0)


def test_no_traceback_local_holds_the_secret() -> None:
    for url in ("http://example.com/", "ftp://127.0.0.1/"):
        with pytest.raises(ValueError, match="webhook") as caught:
            Subscription(url, "never-in-a-traceback-0123")
        shown = traceback.TracebackException.from_exception(caught.value, capture_locals=True)
        shown_locals = [frame.locals or {} for frame in shown.stack]
        assert any("self" in names for names in shown_locals)  # Subscription's own frame
        assert not [v for names in shown_locals for v in names.values() if "never-in" in v]


def test_trigger_refuses_what_it_cannot_send() -> None:
    emu = Emulator(customers=5, chats=0, webhooks=[Subscription("http://127.0.0.1:9/", "k")])
    with pytest.raises(ValueError, match="unknown webhook event"):
        emu.trigger("chat.created")
    with pytest.raises(ValueError, match="no chat"):
        emu.trigger("chat.new")
    with pytest.raises(ValueError, match="no customer with id 1"):
        emu.trigger("customer.new", customer=1)


async def test_the_admin_routes_trigger_and_list_deliveries(collector: WebhookCollector) -> None:
    async with (
        Emulator(
            customers=10, chats=2, webhooks=[collector.subscription()], webhook_settings=settings()
        ) as emu,
        aiohttp.ClientSession(emu.url) as http,
    ):
        spec = {"event": "chat.rated", "fields": {"rating": "poor"}}
        async with http.post("/_emulator/trigger", json=spec) as answer:
            assert answer.status == 200
            event_id = (await answer.json())["id"]
        bad_specs: list[Any] = [{"event": "chat.created"}, {"event": "chat.new", "chat": {}}, []]
        for bad in bad_specs:
            async with http.post("/_emulator/trigger", json=bad) as answer:
                assert answer.status == 400
        await settle(emu)
        async with http.get("/_emulator/webhooks") as answer:
            [record] = await answer.json()
    assert record["event_id"] == event_id
    assert record["outcome"] == "delivered"
    [delivery] = collector.deliveries
    assert delivery.envelope is not None
    assert delivery.envelope["eventData"]["rating"] == "poor"


# -- the pytest fixture -----------------------------------------------------------------


def test_the_fixture_collects_deliveries_from_a_threaded_emulator(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    helpcrunch_webhooks: ThreadedCollector,
) -> None:
    emulator = helpcrunch_emulator_factory(
        customers=20,
        chats=3,
        webhooks=[helpcrunch_webhooks.subscription(["chat.new", "customer.deleted"])],
        webhook_settings=settings(),
    )
    emulator.add_chats(2)
    emulator.delete(1)
    events = helpcrunch_webhooks.wait(3, timeout=10)
    emulator.webhooks_settled(timeout=10)
    assert sorted(e["event"] for e in events) == ["chat.new", "chat.new", "customer.deleted"]
    assert all(d.verified for d in helpcrunch_webhooks.deliveries)
    assert [r.outcome for r in emulator.deliveries] == ["delivered"] * 3
    assert emulator.trigger("customer.blocked") is None  # not among the subscription's types
    assert msgspec.json.decode(helpcrunch_webhooks.deliveries[0].body)["attempts"] == 0
