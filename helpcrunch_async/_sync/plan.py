"""The sync's pure decisions: where each scan starts, its searches, its cursors, its refresh slice.

This module is pure: it imports neither aiohttp nor asyncio, does no I/O and takes
time as an argument. The shell (`_sync.reads`, the dlt source) asks it what to
request. The deletion count (`DeletionPlan`) and the keyset paging (`Keyset`)
are plans of the scan engine and live in `_core.reconcile`.

The rules, one place each:

1. A scan of changes starts ``overlap`` seconds before the last run's cursor
   (`scan_from`): clock skew, visits still being recorded when the last run
   began. Every scan and the messages' cutoff use this one rule.
2. Cursors are in the server's clock, never ours: the next ``since`` is the
   highest timestamp the server had when this scan started, never past its
   present (`next_cursor`).
3. The searches that find changes (`customer_change_searches`,
   `chat_change_searches`): see each function for why its sort cannot let a
   record slip past while the scan runs.
4. The rolling refresh (`refresh_slice`): each run re-reads the next
   ``ceil(held / days)`` customers by id, wrapping around, so every customer
   held is read whole at least once every ``days`` runs, for the same number
   of requests each run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "ChangeSearch",
    "RefreshSlice",
    "chat_change_searches",
    "customer_change_searches",
    "next_cursor",
    "refresh_slice",
    "scan_from",
]


def scan_from(since: int, overlap: int) -> int:
    """Return where a scan of changes since ``since`` starts: ``overlap`` s earlier (rule 1)."""
    if overlap < 0:
        raise ValueError("overlap must not be negative")
    return since - overlap


@dataclass(frozen=True, slots=True)
class ChangeSearch:
    """One search of a change scan: filters (field, operator, value) joined by AND, and a sort."""

    filters: tuple[tuple[str, str, int], ...]
    sort: str
    order: str


def customer_change_searches(
    *, since: int, after_id: int | None, overlap: int
) -> list[ChangeSearch]:
    """Return the searches that find every customer seen since ``since`` or newer than ``after_id``.

    1. ``lastSeen >= since - overlap``, sorted by ``lastSeen`` ascending, with
       no upper bound, read by key (`Keyset`). A visit during the scan gives a
       customer a ``lastSeen`` above every other, which moves it to the end of
       the order, ahead of the cursor wherever it was: the scan reads it there
       (again, if it had read it before; the shell drops the repeat), so a
       customer in the set when the scan began is found, however often it
       visits meanwhile. The scan ends when it reaches the end of the set:
       visits faster than the scan reads would keep it going.
    2. If ``after_id`` is given: ``id > after_id``, sorted by ``firstSeen``
       ascending (customers never seen have no ``lastSeen``, so search 1 cannot
       find them). ``firstSeen`` is set once, and new customers come with the
       latest ``firstSeen``: at the end.

    The two results may overlap; the shell yields each customer once.
    """
    searches = [
        ChangeSearch(
            filters=(("customers.lastSeen", ">=", scan_from(since, overlap)),),
            sort="customers.lastSeen",
            order="asc",
        )
    ]
    if after_id is not None:
        searches.append(
            ChangeSearch(
                filters=(("customers.id", ">", after_id),),
                sort="customers.firstSeen",
                order="asc",
            )
        )
    return searches


def next_cursor(high: int | None, server_now: int | None, previous: int | None) -> int | None:
    """Return the next run's ``since``: the server's newest timestamp, never past its present.

    1. ``high`` is the newest timestamp the server had when the scan began (its
       own clock, not ours).
    2. A cursor never moves past ``server_now`` (the server's ``Date`` header,
       when it sent one): one record stamped in the future (a server clock that
       jumped, a bad import) would otherwise hide every later change until a
       full pass.
    3. With nothing to go on (no record, no date), the previous cursor stays.
    """
    if high is None:
        return previous if server_now is None or previous is None else min(previous, server_now)
    return high if server_now is None else min(high, server_now)


def chat_change_searches(*, since: int, overlap: int) -> list[ChangeSearch]:
    """Return the searches that find every chat changed or created since ``since``.

    1. ``updatedAt >= since - overlap``: chats opened, answered, closed,
       reassigned or re-rated (every one of those moves ``updatedAt``).
    2. ``createdAt >= since - overlap``: new chats, in case a new chat's
       ``updatedAt`` is left empty.

    Both sorted by ``createdAt`` ascending, which never changes for a chat: a
    change during the scan adds a chat to set 1 at its old place and never
    moves one inside the set, so no upper bound is needed; the shell reads them
    by key (`Keyset`), so a chat joining behind the cursor shifts nothing (it
    is the next sync's). Chat ids cannot be searched;
    the shell reads the newest chats above ``after_id`` from ``GET /chats``.
    """
    low = scan_from(since, overlap)
    return [
        ChangeSearch(
            filters=(("chats.updatedAt", ">=", low),),
            sort="chats.createdAt",
            order="asc",
        ),
        ChangeSearch(
            filters=(("chats.createdAt", ">=", low),),
            sort="chats.createdAt",
            order="asc",
        ),
    ]


@dataclass(frozen=True, slots=True)
class RefreshSlice:
    """The customers one run re-reads: the held ids in each inclusive ``(lo, hi)`` range."""

    ranges: tuple[tuple[int, int], ...]
    # How many held ids the ranges hold.
    size: int
    # Where the next run starts: after this id (None: from the first held id).
    next_after: int | None


def refresh_slice(held: Sequence[int], after: int | None, days: int) -> RefreshSlice:
    """Return the slice of ``held`` (sorted ids) a run re-reads so each is read every ``days`` runs.

    1. ``days`` 0 is off: an empty slice.
    2. The slice is the next ``ceil(len(held) / days)`` held ids after
       ``after``, wrapping to the first held id: at most two ranges. So ``days``
       runs in a row read every id held at the first of them.
    3. An ``after`` past every held id (those ids are gone) starts over at the first.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    if days == 0 or not held:
        return RefreshSlice((), 0, after)
    size = -(-len(held) // days)
    start = 0 if after is None else _first_after(held, after)
    if start >= len(held):
        start = 0
    stop = start + size
    if stop <= len(held):
        following = held[stop - 1] if stop < len(held) else None
        return RefreshSlice(((held[start], held[stop - 1]),), size, following)
    # Past the end: the rest, then from the first id (never past ``start``).
    wrapped = min(stop - len(held), start)
    ranges: list[tuple[int, int]] = [(held[start], held[-1])]
    if wrapped:
        ranges.append((held[0], held[wrapped - 1]))
    following = held[wrapped - 1] if wrapped and wrapped < start else None
    return RefreshSlice(tuple(ranges), len(held) - start + wrapped, following)


def _first_after(held: Sequence[int], after: int) -> int:
    lo, hi = 0, len(held)
    while lo < hi:
        mid = (lo + hi) // 2
        if held[mid] <= after:
            lo = mid + 1
        else:
            hi = mid
    return lo
