"""Finding what a scan missed: count id ranges against the ids it yielded, read those that differ.

This module is pure: it imports neither aiohttp nor asyncio and does no I/O.
The shell (`_shell.scan`) runs a `RecountPlan` on the scan engine once a
finished scan knows items are missing (`unexplained_missing`), and only for a
listing whose search can filter by id (customers; chat search has no id field).

The rules:

1. Counting. The counting is `_core.reconcile.DeletionPlan`'s, over every id
   the API can hold (``[0, 2**63 - 1)``), with the ids the scan yielded as the
   ones held: a range whose server count equals the yielded ids in it is
   clean; one that differs is split at its median yielded id, down to ranges
   that fit one page, which are read. For ``d`` missing items among ``N``
   this costs about ``d * log2(N / page)`` requests; when many are missing,
   a few times the listing's pages at most, as each range is split once.
2. Found. The items a read brings whose id the scan did not yield are
   released, in the order read (id ranges, not the listing's sort); the
   shell drops any it has seen by then. Yielded ids that are gone from the
   server (deleted while the scan ran) are not missing and are ignored.
3. The blind spot (`DeletionPlan`'s): a yielded item deleted meanwhile and a
   missed one in the same range cancel in the counts, and the missed one is
   not found; the shell's final count cannot tell either.
4. Uncountable. A page without a total, or a range read empty where its
   own count says more, cannot be counted: the plan stops asking
   (`uncountable` says why), and the scan is not complete.
5. The end. The count of the whole span (`total`, the first answer) is the
   listing's total now; the shell calls the scan complete only if the ids
   known before it, yielded and not `gone` reach it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from helpcrunch_async._core.idset import IdSet
from helpcrunch_async._core.params import MAX_INT
from helpcrunch_async._core.reconcile import CountRange, DeletionPlan, ReadRange

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

__all__ = ["Ask", "RecountPlan", "unexplained_missing"]

T = TypeVar("T")

Ask = CountRange | ReadRange
"""One request of a recount: count ``[lo, hi)`` (one item asked for) or read it (a page)."""

# Every id the API can hold (rule 1): ids are positive 64-bit integers.
_SPAN = (0, MAX_INT)


def unexplained_missing(
    *,
    total: int | None,
    start: int,
    yielded: int,
    duplicates: int,
    first_total: int | None,
    largest_total: int | None,
) -> int:
    """Return how many items the freshest ``total`` counts that the scan surely missed.

    Fewer items yielded (from ``start``) than ``total`` counts means current
    items were not yielded: yielded items are distinct, and one deleted meanwhile
    only lowers the total. Inserts behind the scan are the one exception: each
    is new since the scan began (the next run's), pushes one seen item into a
    later window (one of the ``duplicates``) and grows the total. So at most
    ``min(duplicates, growth)`` are explained. Duplicates under a total that did
    not grow are items served twice in place of others (a sort whose ties come
    in another order on each request, or an item that moved in the sort order):
    as many others were missed.
    """
    if total is None:
        return 0
    missing = total - start - yielded
    growth = 0
    if first_total is not None and largest_total is not None:
        growth = max(0, largest_total - first_total)
    return max(0, missing - min(duplicates, growth))


class RecountPlan(Generic[T]):
    """The id ranges to count and read until the items a scan missed are found.

    It is a plan of the scan engine: `next_fetch`, `page_done`, `release`.
    ``limit(ask)`` is how many items to ask for (1 to count, ``page_size`` to
    read); ``key(item)`` an item's id.
    """

    __slots__ = ("_found", "_key", "_plan", "_queue", "_seen", "page_size", "total", "uncountable")

    def __init__(self, yielded: Iterable[int], *, key: Callable[[T], int], page_size: int) -> None:
        self.page_size = page_size
        self._key = key
        self._seen = IdSet()
        held = list(yielded)
        self._seen.add_many(held)
        self._plan = DeletionPlan(held, read_size=page_size, span=_SPAN)
        self._queue: list[Ask] = []
        self._found: list[T] = []
        # Why the ranges cannot be counted (rule 4), once they cannot: nothing more is asked.
        self.uncountable: str | None = None
        # The count of the whole span: the listing's total now.
        self.total: int | None = None

    @property
    def done(self) -> bool:
        """Whether every range is settled (or cannot be) and every find released."""
        settled = self.uncountable is not None or (self._plan.done and not self._queue)
        return settled and not self._found

    @property
    def gone(self) -> int:
        """Yielded ids the ranges read or counted empty no longer hold (deleted meanwhile)."""
        return len(self._plan.deleted)

    @property
    def opening(self) -> bool:
        """Never: a recount follows a scan whose opening taught the budget already."""
        return False

    def open_now(self) -> None:
        """Nothing to open (see `opening`)."""

    def limit(self, ask: Ask) -> int:
        """Return how many items ``ask`` asks for: one to count, a page to read."""
        return 1 if isinstance(ask, CountRange) else self.page_size

    def next_fetch(self) -> Ask | None:
        """Return the next range to count or read, or None until an answer settles more."""
        if self.uncountable is not None:
            return None
        if not self._queue:
            self._queue = self._plan.next_requests()
        return self._queue.pop(0) if self._queue else None

    def page_done(self, fetch: Ask, items: Sequence[T], total: int | None) -> None:
        """Record the answer to ``fetch``: the items in its range and their count."""
        if total is None:
            self._stop("the search sent no total")
            return
        if isinstance(fetch, CountRange):
            if (fetch.lo, fetch.hi) == _SPAN:
                self.total = total
            self._plan.counted(fetch, total)
            return
        key = self._key
        ids = [key(item) for item in items]
        try:
            self._plan.read(fetch, ids, total)
        except ValueError as refused:
            # The range's data stops short of its own count (`DeletionPlan.read`).
            self._stop(str(refused))
            return
        fresh = self._seen.add_many(ids)
        self._found.extend(
            item
            for item, item_id, new in zip(items, ids, fresh, strict=True)
            if new and fetch.lo <= item_id < fetch.hi
        )

    def _stop(self, reason: str) -> None:
        """Ask nothing more (rule 4): the ranges cannot be counted, for ``reason``."""
        self.uncountable = reason
        self._queue.clear()

    def release(self) -> Sequence[T] | None:
        """Return the items found so far (rule 2), or None if there are none."""
        if not self._found:
            return None
        found, self._found = self._found, []
        return found

    def obsolete(self) -> list[Ask]:
        """Nothing a recount asks for becomes obsolete."""
        return []

    def cancel(self, fetch: Ask) -> None:
        """Forget nothing: requests are never obsolete (see `obsolete`)."""
