"""The paging plan and the id set, without an event loop."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpcrunch_async._core.idset import IdSet
from helpcrunch_async._core.paging import Fetch, ScanPlan, ScanStats


def next_offset(plan: ScanPlan[int]) -> int | None:
    """The offset of the next planned window, or None."""
    fetch = plan.next_fetch()
    return None if fetch is None else fetch.offset


def answer(plan: ScanPlan[int], offset: int, items: list[int], total: int) -> None:
    """Answer the planned (full-size) window at ``offset``."""
    plan.page_done(Fetch(offset, plan.page_size), items, total)


def unique(ids: list[int]) -> list[int]:
    """``ids`` without repeats, first occurrence kept, as the scan drops them."""
    seen = IdSet()
    return [i for i in ids if seen.add(i)]


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


def run_scan(
    rows: list[int],
    *,
    page_size: int,
    lookahead: int,
    concurrency: int,
    rng: random.Random,
    start: int = 0,
    drift: dict[int, int] | None = None,
) -> tuple[list[int], ScanPlan[int], int]:
    """Drive a plan to completion the way a server and a network would.

    The server reads each request in flight at some moment, and the answer
    reaches the plan at a later one; both orders are random and differ, as
    they do over concurrent connections. ``drift`` maps a read count to a
    number of rows inserted at the front (positive) or deleted from the front
    (negative) just before that read. Returns the released ids (before dedup),
    the plan and the requests made.
    """
    plan: ScanPlan[int] = ScanPlan(page_size=page_size, lookahead=lookahead, start=start)
    unread: list[Fetch] = []
    answered: list[tuple[Fetch, list[int], int]] = []
    released: list[int] = []
    reads = 0
    next_id = max(rows, default=0) + 1
    while not plan.done:
        while len(unread) + len(answered) < concurrency and (fetch := plan.next_fetch()):
            unread.append(fetch)
        # Planned windows stay within the lookahead; repairs may add two.
        assert plan.in_flight + plan.buffered <= lookahead + 2
        assert unread or answered, "the plan stalled with nothing in flight"
        if unread and (not answered or rng.random() < 0.5):
            fetch = unread.pop(rng.randrange(len(unread)))
            reads += 1
            change = (drift or {}).get(reads, 0)
            for _ in range(change):
                rows.insert(0, next_id)
                next_id += 1
            del rows[: max(0, -change)]
            answered.append((fetch, rows[fetch.offset : fetch.offset + fetch.limit], len(rows)))
            continue
        fetch, items, total = answered.pop(rng.randrange(len(answered)))
        plan.page_done(fetch, items, total)
        while (batch := plan.release()) is not None:
            released.extend(batch)
    return released, plan, reads


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
    out, _, requests = run_scan(
        list(rows),
        page_size=page_size,
        lookahead=2 * concurrency,
        concurrency=concurrency,
        rng=random.Random(seed),
    )
    assert out == rows
    # One window per page, one more only when the data ends on a window boundary
    # of an empty account.
    assert requests == max(1, -(-total // page_size))


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
    out, plan, _ = run_scan(
        rows, page_size=100, lookahead=16, concurrency=8, rng=random.Random(seed), drift=inserts
    )
    # Inserts at the front shift every row right: a row may appear twice (the
    # scan drops it), and a window answered before an earlier one may miss the
    # rows pushed into it meanwhile. The plan still reaches the last row.
    once = unique(out)
    assert len(once) == len(set(out))
    assert total in once
    # Drift happens only at a read, so the last read saw every row; answers
    # come in any order, but the plan's end covers the largest total.
    assert plan.planned_end is not None
    assert plan.planned_end >= len(rows)


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
    out, _, _ = run_scan(
        rows,
        page_size=100,
        lookahead=2 * concurrency,
        concurrency=concurrency,
        rng=random.Random(seed),
        drift={when: change},
    )
    once = unique(out)
    remaining = set(rows)
    stayed = [r for r in range(1, total + 1) if r in remaining]
    # Rows deleted after they came out may come out too; those that stayed all do.
    assert [r for r in once if r in remaining and r <= total] == stayed


def test_a_delete_between_two_reads_is_repaired() -> None:
    rows = list(range(1, 301))
    plan, second, third = first_three_windows(rows)
    plan.page_done(second, rows[100:200], len(rows))
    del rows[:30]  # thirty customers at the front go away
    plan.page_done(third, rows[200:300], len(rows))
    out = [*plan.release(), *plan.release()]  # type: ignore[misc]  # both have arrived
    assert plan.release() is None  # the third waits for a repair
    repair = plan.next_fetch()
    assert repair is not None
    # Thirty on either side of the third window's start: slid back, or pushed on.
    assert (repair.offset, repair.limit, repair.repair_for) == (170, 60, 200)
    assert plan.next_fetch() is None
    plan.page_done(repair, rows[170:230], len(rows))
    out += plan.release() or []
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
    answer(plan, 20, list(range(5)), 45)  # the total grew
    assert [next_offset(plan) for _ in range(3)] == [30, 40, None]


def test_a_full_last_window_asks_for_one_more() -> None:
    plan: ScanPlan[int] = ScanPlan(page_size=10, lookahead=8)
    next_offset(plan)
    answer(plan, 0, list(range(10)), 15)
    assert next_offset(plan) == 10
    answer(plan, 10, list(range(10)), 15)  # full, though the total says 5 remain
    assert next_offset(plan) == 20
    answer(plan, 20, [], 15)
    assert plan.release() is not None
    assert plan.release() is not None
    assert plan.release() == []
    assert plan.done


def test_exact_fit_with_unchanged_total_needs_no_extra_request() -> None:
    plan: ScanPlan[int] = ScanPlan(page_size=10, lookahead=8)
    next_offset(plan)
    answer(plan, 0, list(range(10)), 20)
    assert next_offset(plan) == 10
    answer(plan, 10, list(range(10)), 20)
    assert next_offset(plan) is None
    plan.release()
    plan.release()
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
    out, _, requests = run_scan(
        rows, page_size=100, lookahead=4, concurrency=2, rng=random.Random(1), start=37
    )
    assert out == rows[37:]
    assert requests == 3


def test_a_window_answered_twice_is_a_bug_not_a_page() -> None:
    plan: ScanPlan[int] = ScanPlan(page_size=10, lookahead=2)
    next_offset(plan)
    answer(plan, 0, [], 0)
    with pytest.raises(ValueError, match="no window in flight"):
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
    stats = ScanStats(total_at_start=100, total_at_end=90, customers=80)
    assert stats.total_changed
    assert stats.missing == 10
    assert ScanStats(total_at_start=5, total_at_end=5, customers=5).missing == 0


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
