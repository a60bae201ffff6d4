"""The reconcile plans without an event loop: deletions found by counting, change searches."""

from __future__ import annotations

import math
import random
from bisect import bisect_left

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpcrunch_async._core.reconcile import (
    CountRange,
    DeletionPlan,
    Keyset,
    ReadRange,
    deletion_request_bound,
)
from helpcrunch_async._sync.plan import chat_change_searches, customer_change_searches, next_cursor


class Server:
    """The server side of the plan's questions: a sorted list of the ids it has."""

    def __init__(
        self, ids: set[int], *, top: int = 0, read_size: int = 100, cap: int | None = None
    ) -> None:
        self.ids = sorted(ids)
        # The highest id ever created (deleted ones included): auto-increment goes on from it.
        self.top = max([top, *self.ids[-1:]])
        self.read_size = read_size
        # A server that serves at most this many a page, whatever is asked for.
        self.served = read_size if cap is None else min(cap, read_size)
        self.requests = 0

    def count(self, lo: int, hi: int) -> int:
        self.requests += 1
        return bisect_left(self.ids, hi) - bisect_left(self.ids, lo)

    def page(self, lo: int, hi: int) -> tuple[list[int], int]:
        self.requests += 1
        inside = self.ids[bisect_left(self.ids, lo) : bisect_left(self.ids, hi)]
        return inside[: self.served], len(inside)

    def create(self, step: int) -> None:
        self.top += step
        self.ids.append(self.top)


def run(
    plan: DeletionPlan, server: Server, *, rng: random.Random | None = None, inserts: int = 0
) -> list[int]:
    """Answer the plan until done, in a random order; insert new top ids between answers."""
    rng = rng or random.Random(0)
    pending: list[CountRange | ReadRange] = []
    while True:
        pending.extend(plan.next_requests())
        if not pending:
            break
        ask = pending.pop(rng.randrange(len(pending)))
        if inserts:
            # Customers created during the check: auto-increment, above everything.
            server.create(rng.randint(1, 5))
            inserts -= 1
        if isinstance(ask, CountRange):
            plan.counted(ask, server.count(ask.lo, ask.hi))
        else:
            ids, total = server.page(ask.lo, ask.hi)
            plan.read(ask, ids, total)
    assert plan.done
    return plan.deleted


def test_nothing_held_costs_nothing() -> None:
    plan = DeletionPlan([])
    assert plan.done
    assert plan.next_requests() == []
    assert plan.deleted == []


def test_a_small_set_is_read_in_one_request() -> None:
    held = set(range(10, 60))
    server = Server(held - {17, 33})
    plan = DeletionPlan(held)
    assert run(plan, server) == [17, 33]
    assert server.requests == 1


def test_nothing_deleted_is_one_count() -> None:
    held = set(range(1, 100_001))
    server = Server(held)
    plan = DeletionPlan(held)
    assert run(plan, server) == []
    assert server.requests == plan.requests == 1


def test_ten_deletions_among_754698_cost_a_few_dozen_requests() -> None:
    rng = random.Random(7)
    held = set(range(1, 754_699))
    gone = set(rng.sample(sorted(held), 10))
    server = Server(held - gone)
    plan = DeletionPlan(held)
    assert run(plan, server, rng=rng) == sorted(gone)
    # A full read costs 7,547 requests; the plan about 14 a deletion.
    assert server.requests <= deletion_request_bound(len(held), 10)
    assert deletion_request_bound(len(held), 10) == 1 + 10 * (13 + 2)
    assert server.requests < 160


def test_a_mass_deletion_is_settled_by_counting_zero() -> None:
    held = set(range(1, 10_001))
    gone = set(range(5_001, 10_001))
    server = Server(held - gone)
    plan = DeletionPlan(held)
    assert run(plan, server) == sorted(gone)
    assert server.requests < 20


def test_customers_created_during_the_check_are_not_mistaken_for_anything() -> None:
    held = set(range(1, 5_001))
    gone = {3, 2_500, 4_999}
    server = Server(held - gone, top=5_000)
    plan = DeletionPlan(held)
    assert run(plan, server, inserts=50) == sorted(gone)
    assert plan.unknown == []


def test_unknown_ids_inside_the_held_range_are_read_and_reported() -> None:
    # A held set with gaps the server fills: counts above what we hold.
    held = set(range(1, 3_001, 2))
    extra = {2, 1_000, 2_998}
    server = Server(held | extra)
    plan = DeletionPlan(held)
    assert run(plan, server) == []
    assert plan.unknown == sorted(extra)


def test_a_range_with_many_unknown_ids_is_split_by_value_and_read() -> None:
    # Two held ids around 299 unknown ones: the ranges count far more than held.
    server = Server(set(range(1, 301)) | {400})
    plan = DeletionPlan([1, 400])
    assert run(plan, server) == []
    assert plan.unknown == list(range(2, 301))


def test_a_read_that_finds_more_than_a_page_counts_it_as_a_range() -> None:
    server = Server(set(range(1, 251)))
    plan = DeletionPlan([1, 250])
    (ask,) = plan.next_requests()
    assert isinstance(ask, ReadRange)
    ids, total = server.page(ask.lo, ask.hi)
    assert total == 250
    plan.read(ask, ids, total)
    assert not plan.done
    assert run(plan, server) == []
    assert plan.unknown == list(range(2, 250))


@settings(max_examples=200, deadline=None)
@given(
    held=st.sets(st.integers(1, 5_000), max_size=1_500),
    data=st.data(),
    read_size=st.sampled_from([1, 7, 100]),
    inserts=st.integers(0, 30),
    seed=st.integers(0, 2**32),
)
def test_any_deletions_and_insertions_give_the_exact_deleted_ids(
    held: set[int], data: st.DataObject, read_size: int, inserts: int, seed: int
) -> None:
    ordered = sorted(held)
    gone = set(data.draw(st.lists(st.sampled_from(ordered), unique=True))) if ordered else set()
    # Customers created since the sync: auto-increment, above every id held.
    top = ordered[-1] if ordered else 0
    created = set(data.draw(st.lists(st.integers(top + 1, top + 10_000), max_size=200)))
    server = Server((held - gone) | created, top=top, read_size=read_size)
    plan = DeletionPlan(held, read_size=read_size)
    deleted = run(plan, server, rng=random.Random(seed), inserts=inserts)
    assert deleted == sorted(gone)
    assert plan.unknown == []
    assert plan.requests == server.requests
    assert server.requests <= deletion_request_bound(len(held), len(gone), read_size=read_size)


@settings(max_examples=100, deadline=None)
@given(
    held=st.sets(st.integers(1, 3_000), min_size=1, max_size=1_000),
    data=st.data(),
    seed=st.integers(0, 2**32),
)
def test_unknown_ids_never_make_a_held_id_look_deleted(
    held: set[int], data: st.DataObject, seed: int
) -> None:
    # With the assumption broken (ids inside the range that we never held), an
    # unknown id may hide a deletion, but nothing present is ever reported.
    ordered = sorted(held)
    gone = set(data.draw(st.lists(st.sampled_from(ordered), unique=True)))
    unknown = set(data.draw(st.lists(st.integers(1, 3_000), max_size=100))) - held
    server = Server((held - gone) | unknown, read_size=10)
    plan = DeletionPlan(held, read_size=10)
    deleted = run(plan, server, rng=random.Random(seed))
    assert set(deleted) <= gone
    assert set(plan.unknown) <= unknown
    if not unknown:
        assert set(deleted) == gone


@given(
    n=st.integers(101, 2_000_000),
    d=st.integers(1, 50),
)
def test_the_bound_grows_with_deletions_times_log_of_pages(n: int, d: int) -> None:
    bound = deletion_request_bound(n, d)
    assert bound <= 1 + d * (math.ceil(math.log2(n / 100)) + 2)
    # Far below a full read once the account is large and deletions few.
    if n >= 100_000 and d <= 10:
        assert bound < n / 100 / 5


def test_read_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="read_size"):
        DeletionPlan([1], read_size=0)


def test_customer_searches_read_last_seen_with_no_upper_bound() -> None:
    # A visit during the scan moves a customer past any bound taken at its
    # start: an upper bound would lose it (the call's promise is every customer
    # seen since `since - overlap` when it began).
    first, second = customer_change_searches(since=1_000, after_id=77, overlap=60)
    assert first.filters == (("customers.lastSeen", ">=", 940),)
    assert (first.sort, first.order) == ("customers.lastSeen", "asc")
    assert second.filters == (("customers.id", ">", 77),)
    assert (second.sort, second.order) == ("customers.firstSeen", "asc")
    assert len(customer_change_searches(since=1, after_id=None, overlap=0)) == 1
    with pytest.raises(ValueError, match="overlap"):
        customer_change_searches(since=1, after_id=None, overlap=-1)


def test_a_cursor_never_moves_past_the_servers_present() -> None:
    year_2100 = 4_102_444_800
    now = 1_796_000_000
    assert next_cursor(year_2100, now, 1_700_000_000) == now
    assert next_cursor(1_700_000_500, now, 1_700_000_000) == 1_700_000_500
    # No Date header: the server's newest timestamp, as before.
    assert next_cursor(year_2100, None, None) == year_2100
    # Nothing seen: the previous cursor stays (clamped to the present too).
    assert next_cursor(None, now, 1_700_000_000) == 1_700_000_000
    assert next_cursor(None, now, year_2100) == now
    assert next_cursor(None, None, None) is None


@settings(max_examples=150, deadline=None)
@given(
    held=st.sets(st.integers(1, 4_000), min_size=1, max_size=1_200),
    data=st.data(),
    cap=st.integers(1, 99),
    seed=st.integers(0, 2**32),
)
def test_a_server_that_serves_short_pages_never_makes_a_live_id_look_deleted(
    held: set[int], data: st.DataObject, cap: int, seed: int
) -> None:
    # The deletion count used to read a small range with one request and take
    # every held id missing from that short page as deleted.
    ordered = sorted(held)
    gone = set(data.draw(st.lists(st.sampled_from(ordered), unique=True)))
    server = Server(held - gone, cap=cap)
    plan = DeletionPlan(held)
    assert run(plan, server, rng=random.Random(seed)) == sorted(gone)
    assert plan.unknown == []


@pytest.mark.parametrize("cap", [80, 50])
def test_nothing_deleted_under_a_page_cap_reports_nothing(cap: int) -> None:
    held = set(range(1, 81))
    plan = DeletionPlan(held)
    assert run(plan, Server(held, cap=cap)) == []
    held = set(range(1, 3_001))
    gone = {1_234}
    plan = DeletionPlan(held)
    assert run(plan, Server(held - gone, cap=cap)) == [1_234]


def test_chat_searches_sort_by_creation_which_never_moves() -> None:
    searches = chat_change_searches(since=1_000, overlap=10)
    assert [s.sort for s in searches] == ["chats.createdAt", "chats.createdAt"]
    assert searches[0].filters == (("chats.updatedAt", ">=", 990),)
    assert searches[1].filters == (("chats.createdAt", ">=", 990),)
    with pytest.raises(ValueError, match="overlap"):
        chat_change_searches(since=1, overlap=-1)


@settings(max_examples=200, deadline=None)
@given(
    keys=st.lists(st.integers(0, 400), min_size=0, max_size=600),
    page_size=st.sampled_from([3, 10, 100]),
    cap=st.none() | st.integers(1, 100),
    data=st.data(),
)
def test_a_keyset_scan_misses_nothing_that_stays_however_others_leave_or_join(
    keys: list[int], page_size: int, cap: int | None, data: st.DataObject
) -> None:
    # Records (key, id), sorted by key then id as the server sorts ties; the
    # server serves at most `cap` a page (fewer than asked for, when smaller).
    rows = sorted((k, i) for i, k in enumerate(keys))
    served = page_size if cap is None else min(cap, page_size)
    ties = max((keys.count(k) for k in set(keys)), default=0)
    leave = set(data.draw(st.lists(st.sampled_from(rows), unique=True))) if rows else set()
    plan = Keyset(page_size)
    live = list(rows)
    read: list[int] = []
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    while not plan.done:
        # Between two pages some records leave, some join (new ids at any key).
        for row in [r for r in leave if rng.random() < 0.2]:
            leave.discard(row)
            live.remove(row)
        if rng.random() < 0.3:
            new = (rng.randint(0, 400), len(keys) + len(read) + rng.randint(0, 10**6))
            live.append(new)
            live.sort()
        start = [r for r in live if plan.value is None or r[0] >= plan.value]
        page = start[plan.skip : plan.skip + served]
        read.extend(i for _, i in page)
        plan.page_read([k for k, _ in page], len(start))
    assert not plan.shortfall
    stayed = {i for k, i in rows if (k, i) in set(live)}
    if ties < served:
        assert stayed <= set(read)
    # Pages cost at most about what offset pages cost, plus the re-read ties.
    assert len(read) <= len(rows) + 600 * 2 + (len(read) // served + 1) * ties


def test_a_keyset_page_of_one_value_counts_into_the_tie_group() -> None:
    plan = Keyset(3)
    plan.page_read([1, 2, 2], 20)
    assert (plan.value, plan.skip) == (2, 0)
    plan.page_read([2, 2, 2], 19)
    assert (plan.value, plan.skip) == (2, 3)
    plan.page_read([2, 2, 2], 19)
    assert (plan.value, plan.skip) == (2, 6)
    plan.page_read([2, 5], 8)
    assert plan.done
    with pytest.raises(ValueError, match="sort value"):
        Keyset(2).page_read([1, None], 10)


def test_a_short_keyset_page_is_not_the_end_while_the_total_counts_more() -> None:
    # A server that serves 50 of the 100 asked for: the scan used to stop there.
    plan = Keyset(100)
    plan.page_read(list(range(50)), 120)
    assert not plan.done
    assert (plan.value, plan.skip) == (49, 0)
    plan.page_read(list(range(49, 99)), 71)
    assert not plan.done
    plan.page_read(list(range(98, 120)), 22)
    assert plan.done
    assert not plan.shortfall


def test_an_empty_keyset_page_where_the_total_counts_more_is_a_shortfall() -> None:
    plan = Keyset(100)
    plan.page_read([], 30)
    assert plan.done
    assert plan.shortfall
