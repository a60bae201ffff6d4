"""The paging plan and the id set, without an event loop."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpcrunch_async._core.idset import IdSet
from helpcrunch_async._core.paging import Fetch, ScanPlan
from helpcrunch_async._shell.stats import ScanStats


def next_offset(plan: ScanPlan[int]) -> int | None:
    """The offset of the next planned window, or None."""
    fetch = plan.next_fetch()
    return None if fetch is None else fetch.offset


def answer(plan: ScanPlan[int], offset: int, items: list[int], total: int | None) -> None:
    """Answer the planned (full-size) window at ``offset``."""
    plan.page_done(Fetch(offset, plan.page_size), items, total)


def unique(ids: list[int]) -> list[int]:
    """``ids`` without repeats, first occurrence kept, as the scan drops them."""
    seen = IdSet()
    return [i for i in ids if seen.add(i)]


def drain(plan: ScanPlan[int]) -> list[int]:
    """Release everything that may go now."""
    out: list[int] = []
    while (items := plan.release()) is not None:
        out.extend(items)
    return out


def first_three_windows(rows: list[int]) -> tuple[ScanPlan[int], Fetch, Fetch]:
    """A plan of 100-row windows whose first is answered and next two are in flight."""
    plan: ScanPlan[int] = ScanPlan(page_size=100, lookahead=4)
    first = plan.next_fetch()
    assert first is not None
    plan.page_done(first, rows[0:100], len(rows))
    second, third = plan.next_fetch(), plan.next_fetch()
    assert second is not None
    assert third is not None
    return plan, second, third


@dataclass
class Server:
    """The server side of `run_scan`: rows, and how it bends the rules.

    ``max_page`` caps what a page serves; nothing is served at or past
    ``served_until``; ``total`` overrides the reported total (None: the rows).
    """

    rows: list[int]
    max_page: int | None = None
    served_until: int | None = None
    total: int | None = None
    no_total: bool = False

    def read(self, fetch: Fetch) -> tuple[list[int], int | None]:
        """Answer one request: its items and the reported total."""
        limit = fetch.limit if self.max_page is None else min(fetch.limit, self.max_page)
        end = fetch.offset + limit
        if self.served_until is not None:
            end = min(end, self.served_until)
        items = self.rows[fetch.offset : end] if end > fetch.offset else []
        if self.no_total:
            return items, None
        return items, len(self.rows) if self.total is None else self.total


@dataclass
class Run:
    """What `run_scan` saw: released ids (before dedup), the plan, and every request."""

    released: list[int]
    plan: ScanPlan[int]
    requests: list[Fetch] = field(default_factory=list)
    # The totals of the answers the plan was given, in the order it got them.
    totals: list[int | None] = field(default_factory=list)

    @property
    def reads(self) -> int:
        """Requests the server read (cancelled ones it never saw are not counted)."""
        return len(self.requests)


def run_scan(
    rows: list[int] | Server,
    *,
    page_size: int,
    lookahead: int,
    concurrency: int,
    rng: random.Random,
    start: int = 0,
    drift: dict[int, int] | None = None,
    max_reads: int = 10_000,
) -> Run:
    """Drive a plan to completion the way a server and a network would.

    The server reads each request in flight at some moment, and the answer
    reaches the plan at a later one; both orders are random and differ, as
    they do over concurrent connections. ``drift`` maps a read count to a
    number of rows inserted at the front (positive) or deleted from the front
    (negative) just before that read. Requests the plan calls obsolete are
    cancelled: before the server reads them, when they are still unread.
    """
    server = rows if isinstance(rows, Server) else Server(rows)
    plan: ScanPlan[int] = ScanPlan(page_size=page_size, lookahead=lookahead, start=start)
    run = Run([], plan)
    unread: list[Fetch] = []
    answered: list[tuple[Fetch, list[int], int | None]] = []
    next_id = max(server.rows, default=0) + 1
    while not plan.done:
        for stale in plan.obsolete():
            plan.cancel(stale)
            unread = [f for f in unread if f != stale]
            answered = [a for a in answered if a[0] != stale]
        while len(unread) + len(answered) < concurrency and (fetch := plan.next_fetch()):
            unread.append(fetch)
        # The items held stay within the lookahead's windows (fills and repairs
        # add a few); the requests out, within the concurrency.
        assert plan.buffered_items <= (lookahead + 2) * page_size
        if not unread and not answered:
            # Nothing in flight: the head decides (a fill, a probe, or the end).
            batch = plan.release()
            if batch is not None:
                run.released.extend(batch)
            elif not plan.done:
                fetch = plan.next_fetch()
                assert fetch is not None, "the plan stalled with nothing in flight"
                unread.append(fetch)
            continue
        assert run.reads < max_reads, "the plan does not end"
        if unread and (not answered or rng.random() < 0.5):
            fetch = unread.pop(rng.randrange(len(unread)))
            run.requests.append(fetch)
            change = (drift or {}).get(run.reads, 0)
            for _ in range(change):
                server.rows.insert(0, next_id)
                next_id += 1
            del server.rows[: max(0, -change)]
            answered.append((fetch, *server.read(fetch)))
            continue
        fetch, items, total = answered.pop(rng.randrange(len(answered)))
        run.totals.append(total)
        plan.page_done(fetch, items, total)
        while (batch := plan.release()) is not None:
            run.released.extend(batch)
    return run


@settings(max_examples=200)
@given(
    total=st.integers(min_value=0, max_value=2000),
    page_size=st.integers(min_value=1, max_value=100),
    concurrency=st.integers(min_value=1, max_value=10),
    seed=st.integers(),
)
def test_stable_data_comes_out_complete_in_order_with_no_extra_request(
    total: int, page_size: int, concurrency: int, seed: int
) -> None:
    rows = list(range(1, total + 1))
    run = run_scan(
        list(rows),
        page_size=page_size,
        lookahead=2 * concurrency,
        concurrency=concurrency,
        rng=random.Random(seed),
    )
    assert run.released == rows
    # One window per page, and one request for no data at all.
    pages = -(-total // page_size)
    assert run.reads == max(1, pages)
    assert run.plan.shortfall is None


@settings(max_examples=200)
@given(
    total=st.integers(min_value=1, max_value=1500),
    inserts=st.dictionaries(st.integers(1, 30), st.integers(1, 250), max_size=4),
    seed=st.integers(),
)
def test_inserts_mid_scan_keep_order_and_reach_the_end(
    total: int, inserts: dict[int, int], seed: int
) -> None:
    rows = list(range(1, total + 1))
    run = run_scan(
        rows, page_size=100, lookahead=16, concurrency=8, rng=random.Random(seed), drift=inserts
    )
    out, plan = run.released, run.plan
    # Inserts at the front shift every row right: a row may appear twice (the
    # scan drops it), and a window answered before an earlier one may miss the
    # rows pushed into it meanwhile. The plan still reaches the last row.
    once = unique(out)
    assert len(once) == len(set(out))
    assert total in once
    # Inserts only grow the total: answers come in any order, but the plan's
    # end covers the largest total it was told (a request still unanswered
    # when the plan ended is cancelled, and its read counts for nothing).
    assert plan.data_end is not None
    assert plan.data_end >= max(t for t in run.totals if t is not None)
    assert plan.shortfall is None


@settings(max_examples=300)
@given(
    total=st.integers(min_value=1, max_value=1500),
    when=st.integers(min_value=2, max_value=20),
    change=st.integers(min_value=-100, max_value=100).filter(bool),
    concurrency=st.integers(min_value=1, max_value=8),
    seed=st.integers(),
)
def test_one_change_mid_scan_loses_no_customer_that_stayed(
    total: int, when: int, change: int, concurrency: int, seed: int
) -> None:
    # One burst of inserts or deletes at the front, at any moment, with answers
    # in any order: every row that was never deleted comes out, once.
    rows = list(range(1, total + 1))
    run = run_scan(
        rows,
        page_size=100,
        lookahead=2 * concurrency,
        concurrency=concurrency,
        rng=random.Random(seed),
        drift={when: change},
    )
    assert run.plan.shortfall is None
    once = unique(run.released)
    remaining = set(rows)
    stayed = [r for r in range(1, total + 1) if r in remaining]
    # Rows deleted after they came out may come out too; those that stayed all do.
    assert [r for r in once if r in remaining and r <= total] == stayed


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=800),
    max_page=st.one_of(st.none(), st.integers(min_value=1, max_value=120)),
    served_until=st.one_of(st.none(), st.integers(min_value=0, max_value=850)),
    fake_total=st.one_of(st.none(), st.just(10**12), st.integers(min_value=0, max_value=1000)),
    no_total=st.booleans(),
    page_size=st.sampled_from([100, 37, 1]),
    concurrency=st.integers(min_value=1, max_value=8),
    seed=st.integers(),
)
def test_a_hostile_server_is_read_whole_or_the_shortfall_is_told(  # noqa: PLR0917 -- the knobs
    size: int,
    max_page: int | None,
    served_until: int | None,
    fake_total: int | None,
    no_total: bool,
    page_size: int,
    concurrency: int,
    seed: int,
) -> None:
    # A page cap, data that stops before the total, a made-up total, no total:
    # the plan ends (within a bounded number of requests), and either every
    # item served came out in order or the plan says where the data stopped.
    rows = list(range(1, size + 1))
    server = Server(
        list(rows),
        max_page=max_page,
        served_until=served_until,
        total=None if no_total else fake_total,
        no_total=no_total,
    )
    run = run_scan(
        server,
        page_size=page_size,
        lookahead=2 * concurrency,
        concurrency=concurrency,
        rng=random.Random(seed),
        max_reads=5_000,
    )
    out = unique(run.released)
    served = rows[:served_until] if served_until is not None else rows
    claimed = len(rows) if fake_total is None else fake_total
    shortfall = run.plan.shortfall
    if no_total:
        # Without a total, a short page ends the data only once the rest of
        # its window comes back empty: a page cap loses nothing.
        assert shortfall is None
        assert out == served
    elif len(served) >= claimed:
        assert shortfall is None
        assert out[:claimed] == served[:claimed]
    else:
        assert shortfall is not None
        assert out == served
        assert (shortfall.at_offset, shortfall.missing) == (len(served), claimed - len(served))


def test_a_delete_between_two_reads_is_repaired() -> None:
    rows = list(range(1, 301))
    plan, second, third = first_three_windows(rows)
    plan.page_done(second, rows[100:200], len(rows))
    del rows[:30]  # thirty customers at the front go away
    plan.page_done(third, rows[200:300], len(rows))
    # The third came back short under a total it read later than the second's:
    # which total is current is unknown, so the rest of its window is asked for.
    fill = plan.next_fetch()
    assert fill == Fetch(270, 30)
    out = [*plan.release(), *plan.release()]  # type: ignore[misc]  # both have arrived
    assert plan.release() is None  # the third waits for a repair
    repair = plan.next_fetch()
    assert repair is not None
    # Thirty on either side of the third window's start: slid back, or pushed on.
    assert (repair.offset, repair.limit, repair.repair_for) == (170, 60, 200)
    assert plan.next_fetch() is None
    plan.page_done(repair, rows[170:230], len(rows))
    plan.page_done(fill, rows[270:300], len(rows))
    out += drain(plan)
    assert unique(out) == list(range(1, 301))
    assert plan.done


def test_inserts_between_reads_answered_out_of_order_are_repaired() -> None:
    # The server reads the third window first, then 30 customers arrive at the
    # front, then it reads the second; the answers come back in offset order.
    rows = list(range(1, 301))
    plan, second, third = first_three_windows(rows)
    third_read = (rows[200:300], len(rows))
    rows[0:0] = range(1001, 1031)
    plan.page_done(second, rows[100:200], len(rows))
    plan.page_done(third, *third_read)
    out = [*plan.release(), *plan.release()]  # type: ignore[misc]  # both have arrived
    assert plan.release() is None
    repair = plan.next_fetch()
    assert repair is not None
    assert (repair.offset, repair.limit) == (170, 60)
    plan.page_done(repair, rows[170:230], len(rows))
    out += plan.release() or []
    assert unique(out) == list(range(1, 301))


def test_a_shift_of_more_than_half_a_page_is_repaired_in_two_requests() -> None:
    plan: ScanPlan[int] = ScanPlan(page_size=10, lookahead=4)
    first = plan.next_fetch()
    assert first is not None
    plan.page_done(first, list(range(10)), 30)
    second = plan.next_fetch()
    assert second is not None
    plan.page_done(second, list(range(17, 27)), 23)
    assert plan.release() == list(range(10))
    assert plan.release() is None
    repairs = [plan.next_fetch(), plan.next_fetch()]
    assert [(f.offset, f.limit) for f in repairs if f] == [(3, 10), (13, 4)]


def test_inserts_between_in_order_answers_lose_nothing() -> None:
    rows = list(range(1, 301))
    plan: ScanPlan[int] = ScanPlan(page_size=100, lookahead=4)
    out: list[int] = []
    offset = next_offset(plan)
    while offset is not None or not plan.done:
        assert offset is not None
        answer(plan, offset, rows[offset : offset + 100], len(rows))
        rows[0:0] = [1000 + offset + i for i in range(30)]  # 30 new rows at the front
        while (items := plan.release()) is not None:
            out.extend(items)
        offset = next_offset(plan)
    once = unique(out)
    assert [r for r in once if r <= 300] == list(range(1, 301))


def test_a_grown_total_extends_the_plan() -> None:
    plan: ScanPlan[int] = ScanPlan(page_size=10, lookahead=8)
    assert next_offset(plan) == 0
    assert next_offset(plan) is None  # nothing else before the first page
    answer(plan, 0, list(range(10)), 25)
    assert [next_offset(plan) for _ in range(3)] == [10, 20, None]
    answer(plan, 20, list(range(20, 30)), 45)  # the total grew
    assert [next_offset(plan) for _ in range(3)] == [30, 40, None]


def test_the_first_window_goes_alone_so_one_page_costs_one_request() -> None:
    plan: ScanPlan[int] = ScanPlan(page_size=10, lookahead=8)
    first = plan.next_fetch()
    assert first == Fetch(0, 10)
    assert plan.next_fetch() is None
    plan.page_done(first, list(range(7)), 7)
    assert plan.next_fetch() is None
    assert drain(plan) == list(range(7))
    assert plan.done
    plan = ScanPlan(page_size=10, lookahead=8)
    plan.page_done(plan.next_fetch() or Fetch(0, 10), list(range(10)), 1000)
    # The lookahead holds the first answer, still unreleased, and seven windows.
    assert [next_offset(plan) for _ in range(8)] == [10, 20, 30, 40, 50, 60, 70, None]


def test_a_full_last_window_asks_for_one_more() -> None:
    plan: ScanPlan[int] = ScanPlan(page_size=10, lookahead=8)
    next_offset(plan)
    answer(plan, 0, list(range(10)), 15)
    assert next_offset(plan) == 10
    answer(plan, 10, list(range(10, 20)), 15)  # full, though the total says 5 remain
    assert next_offset(plan) == 20
    answer(plan, 20, [], 15)
    assert drain(plan) == list(range(20))
    assert plan.done


def test_exact_fit_with_unchanged_total_needs_no_extra_request() -> None:
    plan: ScanPlan[int] = ScanPlan(page_size=10, lookahead=8)
    next_offset(plan)
    answer(plan, 0, list(range(10)), 20)
    assert next_offset(plan) == 10
    answer(plan, 10, list(range(10)), 20)
    assert next_offset(plan) is None
    drain(plan)
    assert plan.done


def test_lookahead_bounds_what_is_in_flight_and_buffered() -> None:
    plan: ScanPlan[int] = ScanPlan(page_size=10, lookahead=3)
    next_offset(plan)
    answer(plan, 0, list(range(10)), 1000)
    plan.release()
    assert [next_offset(plan) for _ in range(4)] == [10, 20, 30, None]
    answer(plan, 30, list(range(10)), 1000)
    answer(plan, 20, list(range(10)), 1000)
    # The head (10) is slow: nothing more may start until it arrives.
    assert next_offset(plan) is None
    answer(plan, 10, list(range(10)), 1000)
    assert plan.release() is not None
    assert next_offset(plan) == 40


def test_resume_starts_at_an_offset_off_the_grid() -> None:
    rows = list(range(1, 251))
    run = run_scan(rows, page_size=100, lookahead=4, concurrency=2, rng=random.Random(1), start=37)
    assert run.released == rows[37:]
    assert run.reads == 3


def test_a_window_answered_twice_is_a_bug_not_a_page() -> None:
    plan: ScanPlan[int] = ScanPlan(page_size=10, lookahead=2)
    next_offset(plan)
    answer(plan, 0, [], 0)
    with pytest.raises(ValueError, match="no request in flight"):
        answer(plan, 0, [], 0)


@pytest.mark.parametrize(
    "kwargs", [{"page_size": 0, "lookahead": 1}, {"page_size": 1, "lookahead": 0}]
)
def test_bad_plan_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be at least 1"):
        ScanPlan(**kwargs)


def test_overlapping_pauses_count_once() -> None:
    stats = ScanStats()
    for _ in range(7):  # seven workers hear of the same one-second pause
        stats.add_pause(10.0, 1.0)
    stats.add_pause(10.5, 1.0)  # extends it by half a second
    stats.add_pause(20.0, 0.25)
    assert stats.pause_seconds == pytest.approx(1.75)


def test_stats_report_drift() -> None:
    stats = ScanStats(total_at_start=100, total_at_end=90, items=80)
    assert stats.total_changed
    assert stats.missing == 10
    assert ScanStats(total_at_start=5, total_at_end=5, items=5).missing == 0


def test_stats_count_items_of_any_kind_and_keep_the_old_name() -> None:
    stats = ScanStats(items=3)
    assert stats.customers == 3  # the deprecated alias reads the same count
    stats.customers += 2
    assert stats.items == 5
    assert "items=5" in repr(stats)
    assert "customers" not in repr(stats)


@given(st.lists(st.integers(min_value=-(2**70), max_value=2**70)))
def test_idset_behaves_like_a_set(values: list[int]) -> None:
    ids, reference = IdSet(), set()
    for v in values:
        assert ids.add(v) == (v not in reference)
        reference.add(v)
        assert v in ids
    assert len(ids) == len(reference)


@pytest.mark.parametrize("seed", range(5))
def test_idset_dense_chunks_turn_into_bitmaps(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.randrange(70_000) for _ in range(5000)]
    ids, reference = IdSet(), set()
    for v in values:
        assert ids.add(v) == (v not in reference)
        reference.add(v)
    assert all(v in ids for v in reference)
    assert all((v in ids) == (v in reference) for v in range(0, 70_001, 7))


def test_idset_is_compact_for_auto_increment_ids() -> None:
    ids = IdSet()
    for i in range(1_000_000):
        ids.add(265_555 + 7 * i)
    assert len(ids) == 1_000_000
    assert ids.memory_bytes() < 2_000_000


def test_one_short_page_is_filled_and_two_that_agree_set_the_page_size() -> None:
    plan: ScanPlan[int] = ScanPlan(page_size=100, lookahead=8)
    first = plan.next_fetch()
    assert first is not None
    # A fluke: one item where a hundred were asked for, while the total says more.
    plan.page_done(first, [0], 1000)
    assert plan.next_fetch() == Fetch(1, 99)
    assert plan.page_size == 100
    second = plan.next_fetch()
    assert second == Fetch(100, 100)
    # The second window agrees on no size yet: 40 is another count.
    plan.page_done(second, list(range(100, 140)), 1000)
    assert plan.next_fetch() == Fetch(140, 60)
    assert plan.page_size == 100
    # A third short page of 40: two agree, and the server serves 40 a page.
    third = plan.next_fetch()
    assert third == Fetch(200, 100)
    plan.page_done(third, list(range(200, 240)), 1000)
    assert plan.page_size == 40
    assert plan.next_fetch() == Fetch(240, 40)
    assert plan.next_fetch() == Fetch(280, 20)
    assert plan.next_fetch() == Fetch(300, 40)
