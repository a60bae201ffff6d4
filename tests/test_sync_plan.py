"""The sync's pure plans: the overlap rule, the refresh slice, and the inbox's coalescing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async._sync.inbox import Announced, coalesce
from helpcrunch_async._sync.plan import (
    chat_change_searches,
    customer_change_searches,
    refresh_slice,
    scan_from,
)

held_ids = st.lists(st.integers(1, 10_000), unique=True, max_size=300).map(sorted)


def test_every_scan_starts_overlap_seconds_before_the_cursor() -> None:
    assert scan_from(1_000, 300) == 700
    (customers,) = customer_change_searches(since=1_000, after_id=None, overlap=300)
    assert customers.filters == (("customers.lastSeen", ">=", 700),)
    assert {s.filters[0][2] for s in chat_change_searches(since=1_000, overlap=300)} == {700}
    with pytest.raises(ValueError, match="overlap"):
        scan_from(1_000, -1)


def _ids_in(held: list[int], ranges: tuple[tuple[int, int], ...]) -> list[int]:
    return [i for i in held if any(lo <= i <= hi for lo, hi in ranges)]


@given(held=held_ids, days=st.integers(1, 40), start=st.integers(0, 10_001) | st.none())
def test_days_runs_in_a_row_read_every_held_id_for_the_same_cost_each(
    held: list[int], days: int, start: int | None
) -> None:
    after = start
    read: set[int] = set()
    size = -(-len(held) // days) if held else 0
    for _ in range(days):
        plan = refresh_slice(held, after, days)
        assert len(plan.ranges) <= 2
        ids = _ids_in(held, plan.ranges)
        # Each run the same number of ids (all of them when fewer are held), never one twice.
        assert len(ids) == plan.size == min(size, len(held))
        read.update(ids)
        after = plan.next_after
    assert read == set(held)


def test_the_refresh_is_off_at_zero_days_and_refuses_a_negative_window() -> None:
    assert refresh_slice([1, 2, 3], None, 0).ranges == ()
    with pytest.raises(ValueError, match="days"):
        refresh_slice([1, 2, 3], None, -1)


CUSTOMER_EVENTS = [
    "customer.new",
    "customer.email_updated",
    "customer.tags_changed",
    "customer.subscribed",
    "customer.unsubscribed",
    "customer.blocked",
    "customer.unblocked",
    "customer.deleted",
]
CHAT_EVENTS = ["chat.new", "chat.assigned", "chat.closed", "chat.snoozed", "message.chat.agent"]


@st.composite
def events(draw: st.DrawFn) -> list[Announced]:
    out: list[Announced] = []
    for n in range(draw(st.integers(0, 60))):
        if draw(st.booleans()):
            name = draw(st.sampled_from(CUSTOMER_EVENTS))
            out.append(Announced(f"e{n}", name, customer_id=draw(st.integers(1, 8))))
        else:
            name = draw(st.sampled_from(CHAT_EVENTS))
            out.append(Announced(f"e{n}", name, chat_id=draw(st.integers(1, 8))))
    return out


@given(batch=events(), order=st.randoms(use_true_random=False))
def test_events_are_coalesced_per_record_in_any_order(
    batch: list[Announced], order: object
) -> None:
    shuffled = list(batch)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    plan = coalesce(shuffled)
    deleted = {e.customer_id for e in batch if e.name == "customer.deleted"}
    named = {e.customer_id for e in batch if e.customer_id is not None}
    chats = {e.chat_id for e in batch if e.chat_id is not None}
    # A deletion wins over every other event about that customer, whatever the order.
    assert set(plan.delete_customers) == deleted
    assert set(plan.read_customers) == named - deleted
    # Each record once, however many events name it.
    assert len(plan.read_customers) == len(set(plan.read_customers))
    assert list(plan.read_chats) == sorted(chats)
    # Every event is taken (and settled once its load commits).
    assert sorted(plan.event_ids) == sorted(e.event_id for e in batch)
    # What is read does not depend on the order the events came in.
    again = coalesce(batch)
    assert (again.read_customers, again.delete_customers, again.read_chats) == (
        plan.read_customers,
        plan.delete_customers,
        plan.read_chats,
    )


def test_an_event_that_names_nothing_is_taken_and_counted_as_skipped() -> None:
    plan = coalesce([Announced("x", "chat.rated"), Announced("y", "something.else")])
    assert plan.skipped == 2
    assert plan.event_ids == ("x", "y")
    assert plan.reads == 0
