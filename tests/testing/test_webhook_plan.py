"""The emulator's pure webhook rules: schedule, fault dice, the URL rule, the payload quirks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async._models.common import seconds
from helpcrunch_async.testing._webhook_events import (
    chat_changes,
    chat_data,
    check_event,
    customer_changes,
    customer_data,
    event_id,
    message_event,
    millis,
)
from helpcrunch_async.testing._webhook_plan import (
    DeliveryFaults,
    RetrySchedule,
    check_url,
    delivered,
    held_back,
    plan_attempt,
    roll,
)

if TYPE_CHECKING:
    import ipaddress


def test_the_schedule_is_ours_and_compressible() -> None:
    schedule = RetrySchedule()
    assert [schedule.after(n) for n in range(3)] == [5, 30, 120]
    assert schedule.after(len(schedule.delays)) is None
    assert sum(schedule.delays) > 86_400  # retried for more than a day
    fast = RetrySchedule(scale=0.001)
    assert fast.after(0) == pytest.approx(0.005)
    assert sum(fast.delays) * fast.scale < 2.1 * 60


@pytest.mark.parametrize(("status", "ok"), [(200, True), (204, True), (299, True), (300, False)])
def test_only_a_2xx_delivers(status: int, ok: bool) -> None:
    assert delivered(status) is ok
    assert delivered(None) is False


@given(st.integers(0, 2**32), st.integers(0, 50), st.integers(0, 3), st.integers(0, 10))
def test_the_dice_depend_only_on_their_key(seed: int, number: int, lane: int, attempt: int) -> None:
    faults = DeliveryFaults(loss_rate=0.5, duplicate_rate=0.5, delay_jitter=1.0, seed=seed)
    assert plan_attempt(faults, number, lane, attempt) == plan_attempt(
        faults, number, lane, attempt
    )
    assert 0 <= roll(seed, "loss", number, lane, attempt) < 1
    never = plan_attempt(DeliveryFaults(seed=seed), number, lane, attempt)
    assert never == (0.0, False, False, False, False, False)
    certain = DeliveryFaults(
        loss_rate=1,
        bad_signature_rate=1,
        duplicate_rate=1,
        string_data_rate=1,
        reorder_rate=1,
        overlap_rate=1,
        seed=seed,
    )
    assert plan_attempt(certain, number, lane, attempt)[1:] == (True,) * 5
    assert held_back(certain, number, lane)


def test_a_rate_is_the_share_it_says() -> None:
    faults = DeliveryFaults(loss_rate=0.3, seed=1)
    lost = sum(plan_attempt(faults, n, 0, 0).lost for n in range(4000))
    assert 0.27 < lost / 4000 < 0.33


@given(st.ip_addresses(v=4))
def test_an_ipv4_host_is_taken_exactly_when_it_is_loopback(address: ipaddress.IPv4Address) -> None:
    url = f"http://{address}:8080/hook"
    if address.is_loopback:
        assert check_url(url).host == str(address)
    else:
        with pytest.raises(ValueError, match="not loopback"):
            check_url(url)
    assert check_url(url, allow_remote=True).port == 8080


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("http://localhost/", (False, "localhost", 80, "/")),
        ("http://127.0.0.1:9/in?token=x", (False, "127.0.0.1", 9, "/in?token=x")),
        ("https://[::1]:8443/h", (True, "::1", 8443, "/h")),
    ],
)
def test_loopback_targets(url: str, target: tuple[bool, str, int, str]) -> None:
    assert tuple(check_url(url)) == target


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ws://127.0.0.1/", "scheme"),
        ("http:///nohost", "needs a host"),
        ("http://127.0.0.1:99999/", "port"),
        ("http://localhost.example.com/", "not loopback"),
        ("http://127.0.0.1/caf\u00e9", "printable ASCII"),
        ("http://127.0.0.1/a b", "printable ASCII"),
    ],
)
def test_bad_urls_are_named(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_url(url)


@given(st.integers(0, 2**40))
def test_millisecond_strings_read_back_as_the_second(value: int) -> None:
    text = millis(value)
    assert text is not None
    whole, _, fraction = text.partition(".")
    assert int(whole) == value
    assert len(fraction) == 3
    assert seconds(text, "createdAt") == value  # the receiving side's normalisation
    assert millis(str(value)) == text
    assert millis(None) is None


def test_payload_quirks_from_rest_records() -> None:
    chat = {
        "id": 7000001,
        "agents": [{"id": 501, "name": "Dana"}],
        "customer": {"id": 1, "name": "Ann", "email": None, "userId": None},
        "assignee": None,
        "closedBy": None,
        "status": "opened",
        "closedAt": None,
        "rating": None,
        "createdAt": 1700000000,
        "snoozedUntil": None,
        "applicationId": 2,
        "department": None,
    }
    data = chat_data(chat)
    assert data["chat_id"] == 7000001
    assert data["communicatedAgents"] == [501]
    assert data["createdAt"].startswith("1700000000.")
    custom = [{"property": "Plan", "value": "Pro"}, {"property": "Seats", "value": 5}]
    assert customer_data({"id": 1, "customData": custom})["customData"] == {
        "Plan": "Pro",
        "Seats": 5,
    }
    assert customer_data({"id": 1, "customData": {"Plan": "Pro"}})["customData"] == {"Plan": "Pro"}
    assert message_event({"type": "private", "from": "agent"}) == "message.private"
    assert message_event({"type": "tech", "from": "agent"}) is None
    with pytest.raises(ValueError, match="unknown webhook event"):
        check_event("chat_status_updated")


def test_event_ids_are_uuids_that_repeat_with_their_seed() -> None:
    first = event_id(1, 1)
    assert first == event_id(1, 1)
    assert first != event_id(1, 2)
    assert first != event_id(2, 1)
    assert first[14] == "4"  # a version-4 UUID


CHAT = {"status": "opened", "snoozedUntil": None, "assignee": {"id": 501}, "rating": None}


@pytest.mark.parametrize(
    ("change", "events"),
    [
        ({}, []),
        ({"status": "pending"}, ["chat.status_updated"]),
        ({"status": "closed"}, ["chat.status_updated", "chat.closed"]),
        ({"status": "on hold", "snoozedUntil": 9}, ["chat.status_updated", "chat.snoozed"]),
        ({"assignee": {"id": 502}}, ["chat.assigned"]),
        ({"assignee": None}, ["chat.assigned"]),
        ({"assignee": {"id": 501, "name": "renamed"}}, []),
        (
            {"status": "closed", "rating": "great"},
            ["chat.status_updated", "chat.closed", "chat.rated"],
        ),
    ],
)
def test_what_a_chat_change_fires(change: dict[str, object], events: list[str]) -> None:
    assert chat_changes(CHAT, {**CHAT, **change}) == events


def test_unsnoozing_and_rerating() -> None:
    snoozed = {**CHAT, "snoozedUntil": 5, "rating": "poor"}
    assert chat_changes(snoozed, {**snoozed, "snoozedUntil": None}) == ["chat.unsnoozed"]
    assert chat_changes(snoozed, {**snoozed, "rating": "great"}) == ["chat.rated"]


CUSTOMER = {
    "email": "a@x.test",
    "tags": [{"name": "Lead"}],
    "unsubscribed": False,
    "blocked": False,
}


@pytest.mark.parametrize(
    ("change", "events"),
    [
        ({}, []),
        ({"email": None}, ["customer.email_updated"]),
        ({"tags": []}, ["customer.tags_changed"]),
        ({"tags": [{"name": "Lead", "color": "#fff"}]}, []),
        ({"unsubscribed": True}, ["customer.unsubscribed"]),
        ({"blocked": True}, ["customer.blocked"]),
        ({"email": "b@x.test", "blocked": True}, ["customer.email_updated", "customer.blocked"]),
    ],
)
def test_what_a_customer_change_fires(change: dict[str, object], events: list[str]) -> None:
    assert customer_changes(CUSTOMER, {**CUSTOMER, **change}) == events
    back = {
        "customer.unsubscribed": "customer.subscribed",
        "customer.blocked": "customer.unblocked",
    }
    reverse = customer_changes({**CUSTOMER, **change}, CUSTOMER)
    assert reverse == [back.get(event, event) for event in events]
