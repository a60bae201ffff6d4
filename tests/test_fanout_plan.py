"""The fan-out plan, without an event loop: order, one request per small listing, bounds, 404s."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpcrunch_async._core.fanout import FanOutPlan, LaneFetch, Released

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass
class Outcome:
    """What `run_fanout` saw."""

    items: list[int] = field(default_factory=list)
    # Requests the server read, per key index.
    reads: dict[int, int] = field(default_factory=dict)
    finished: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    # The most answers waiting or in flight at any one time.
    most_outstanding: int = 0
    most_open: int = 0


def listing_items(index: int, size: int) -> list[int]:
    """The items of the ``index``-th listing: ids unique across listings."""
    return [index * 1000 + i for i in range(size)]


def feed(plan: FanOutPlan[int, int], keys: Iterator[int]) -> None:
    """Give the plan keys while it wants them."""
    while plan.wants_key():
        key = next(keys, None)
        if key is None:
            plan.close_keys()
            return
        plan.add_key(key)


def run_fanout(
    sizes: list[int | None],
    *,
    page_size: int,
    lookahead: int,
    concurrency: int,
    rng: random.Random,
) -> Outcome:
    """Drive a plan over listings of ``sizes`` items (None: gone, a 404), answers in any order."""
    plan: FanOutPlan[int, int] = FanOutPlan(page_size=page_size, lookahead=lookahead)
    out = Outcome()
    keys = iter(range(len(sizes)))
    in_flight: list[LaneFetch[int]] = []
    steps = 0
    while not plan.done:
        steps += 1
        assert steps < 100_000, "the plan does not end"
        feed(plan, keys)
        for stale in plan.obsolete():
            plan.cancel(stale)
            in_flight.remove(stale)
        while len(in_flight) < concurrency and (fetch := plan.next_fetch()) is not None:
            in_flight.append(fetch)
        out.most_outstanding = max(out.most_outstanding, plan.in_flight + plan.buffered)
        out.most_open = max(out.most_open, plan.open_listings)
        if in_flight:
            fetch = in_flight.pop(rng.randrange(len(in_flight)))
            out.reads[fetch.index] = out.reads.get(fetch.index, 0) + 1
            size = sizes[fetch.key]
            if size is None:
                plan.skip(fetch)
            else:
                rows = listing_items(fetch.key, size)
                inner = fetch.fetch
                plan.page_done(fetch, rows[inner.offset : inner.offset + inner.limit], size)
        released: Released[int, int] | None
        while (released := plan.release()) is not None:
            out.items.extend(released.items)
            if released.finished:
                assert released.listing.shortfall is None
                (out.skipped if released.skipped else out.finished).append(released.index)
        if not in_flight and not plan.done and not plan.wants_key():
            # Nothing in flight, and no key wanted: the plan must have a request to send.
            fetch = plan.next_fetch()
            assert fetch is not None, "the plan stalled with nothing in flight"
            in_flight.append(fetch)
    return out


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.lists(
        st.one_of(st.none(), st.integers(0, 12), st.integers(0, 350)), min_size=0, max_size=30
    ),
    page_size=st.integers(min_value=5, max_value=100),
    concurrency=st.integers(min_value=1, max_value=8),
    seed=st.integers(),
)
def test_every_item_in_key_order_each_listing_in_its_order(
    sizes: list[int | None], page_size: int, concurrency: int, seed: int
) -> None:
    lookahead = 2 * concurrency
    out = run_fanout(
        sizes,
        page_size=page_size,
        lookahead=lookahead,
        concurrency=concurrency,
        rng=random.Random(seed),
    )
    expected = [i for k, n in enumerate(sizes) if n is not None for i in listing_items(k, n)]
    assert out.items == expected
    assert out.finished == [k for k, n in enumerate(sizes) if n is not None]
    assert out.skipped == [k for k, n in enumerate(sizes) if n is None]
    for index, size in enumerate(sizes):
        reads = out.reads.get(index, 0)
        if size is None:
            assert reads == 1  # one 404, then skipped
        elif size < page_size:
            assert reads == 1  # a listing of one page costs exactly one request
        else:
            # One per page (the exact fit asks for nothing more).
            assert reads == -(-size // page_size)
    # Bounded memory: the head listing's lookahead plus the shared one.
    assert out.most_outstanding <= 2 * lookahead
    assert out.most_open <= lookahead


def test_first_pages_of_many_listings_leave_at_once_without_an_opening_of_their_own() -> None:
    # Whether the server takes bursts is the budget's question (rule 6 of _core.cap).
    plan: FanOutPlan[str, int] = FanOutPlan(page_size=100, lookahead=8)
    for key in "abcdef":
        plan.add_key(key)
    plan.close_keys()
    burst = [plan.next_fetch() for _ in range(7)]
    assert [f.key for f in burst if f] == ["a", "b", "c", "d", "e", "f"]


def test_the_head_listing_goes_first_and_later_pages_follow_their_first() -> None:
    plan: FanOutPlan[str, int] = FanOutPlan(page_size=10, lookahead=4)
    for key in "ab":
        plan.add_key(key)
    a, b = plan.next_fetch(), plan.next_fetch()
    assert a is not None
    assert b is not None
    plan.page_done(b, list(range(10)), 30)  # b has three pages
    plan.page_done(a, list(range(100, 110)), 25)  # a has three too
    order = [plan.next_fetch() for _ in range(4)]
    # a's pages before b's: a is the head.
    assert [(f.key, f.fetch.offset) for f in order if f] == [
        ("a", 10),
        ("a", 20),
        ("b", 10),
        ("b", 20),
    ]


def test_a_listing_gone_mid_way_cancels_its_requests() -> None:
    plan: FanOutPlan[str, int] = FanOutPlan(page_size=10, lookahead=8)
    plan.add_key("a")
    plan.close_keys()
    first = plan.next_fetch()
    assert first is not None
    plan.page_done(first, list(range(10)), 50)
    later = [plan.next_fetch() for _ in range(4)]
    assert all(later)
    released = plan.release()
    assert released is not None
    assert list(released.items) == list(range(10))
    plan.skip(later[0])  # type: ignore[arg-type]  # checked just above
    assert sorted(f.fetch.offset for f in plan.obsolete()) == [20, 30, 40]
    gone = plan.release()
    assert gone is not None
    assert (gone.finished, gone.skipped) == (True, True)
    assert plan.done


def test_keys_are_asked_for_only_while_there_is_room() -> None:
    plan: FanOutPlan[int, int] = FanOutPlan(page_size=10, lookahead=3)
    taken = 0
    while plan.wants_key():
        plan.add_key(taken)
        taken += 1
    assert taken == 3
    plan.close_keys()
    with pytest.raises(ValueError, match="no key may follow"):
        plan.add_key(99)


@pytest.mark.parametrize(
    "kwargs", [{"page_size": 0, "lookahead": 1}, {"page_size": 1, "lookahead": 0}]
)
def test_bad_fanout_settings(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be at least 1"):
        FanOutPlan(**kwargs)
