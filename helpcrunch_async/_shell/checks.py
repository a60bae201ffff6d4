"""Dropping items seen twice, and telling a complete listing from one that stopped short.

Shell code over `_core.idset.IdSet` and the plan's totals: `Dedup` keeps a
listing's ids, `known_missing` says how many items a finished listing surely
missed (`_core.recount.unexplained_missing`), and `check_complete` raises
`IncompleteScanError` when there are any, or when the data stopped short.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from helpcrunch_async._core.idset import IdSet
from helpcrunch_async._core.recount import unexplained_missing
from helpcrunch_async._errors import IncompleteScanError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from helpcrunch_async._core.paging import ScanPlan, Shortfall

__all__ = ["Dedup", "check_complete", "known_missing", "repeating_error"]

T = TypeVar("T")

# Pages in a row that bring only items seen before, with a total that did not
# grow, before a scan calls the server's answers a loop rather than drift.
_REPEATS = 3
# Ids added to the set at a time by `Dedup.preload`.
_PRELOAD_BATCH = 4096


class Dedup(Generic[T]):
    """Items of one listing seen before, and the checks that need them."""

    __slots__ = (
        "_first",
        "_ids",
        "_key",
        "_page",
        "_repeats",
        "_repeats_total",
        "duplicates",
        "yielded",
    )

    def __init__(self, key: Callable[[T], int]) -> None:
        self._key = key
        self._ids = IdSet()
        self._repeats = 0
        self._repeats_total: int | None = None
        # The ids of the first page released, and of the latest.
        self._first: list[int] | None = None
        self._page: list[int] = []
        self.duplicates = 0
        self.yielded = 0

    def fresh(self, items: Sequence[T]) -> list[T]:
        """Return the items not seen before, in order, and count the rest."""
        key = self._key
        self._page = [key(item) for item in items]
        if self._first is None and self._page:
            self._first = self._page
        new = self._ids.add_many(self._page)
        fresh = [item for item, is_new in zip(items, new, strict=True) if is_new]
        self.duplicates += len(items) - len(fresh)
        self.yielded += len(fresh)
        return fresh

    def preload(self, ids: Iterable[int]) -> int:
        """Know ``ids`` as seen before this scan (not yielded by it); return how many are new."""
        added = 0
        batch: list[int] = []
        for item_id in ids:
            batch.append(item_id)
            if len(batch) == _PRELOAD_BATCH:
                added += sum(self._ids.add_many(batch))
                batch = []
        return added + sum(self._ids.add_many(batch))

    def ids(self) -> Iterator[int]:
        """Yield the ids seen so far, in ascending order."""
        return iter(self._ids)

    def repeating(self, items: Sequence[T], fresh: Sequence[T], total: int | None) -> bool:
        """Whether the server serves seen items again and again instead of the next ones.

        Pages in a row with items but nothing new, while the total did not grow:
        one such page for a listing without a total (the server ignores the
        offset and serves the whole list again), or one that is the first page
        again, item for item (the server ignores the offset: no drift repeats
        the first page in order while the total stands); `_REPEATS` otherwise.
        """
        if fresh or not items:
            self._repeats, self._repeats_total = 0, total
            return False
        self._repeats += 1
        if total is None:
            return True
        grew = self._repeats_total is not None and total > self._repeats_total
        if grew:
            return False
        page = self._page
        first_again = page is not self._first and page == self._first
        return self._repeats >= _REPEATS or first_again


def known_missing(plan: ScanPlan[Any], dedup: Dedup[Any]) -> int:
    """Return how many items a finished listing surely missed (see `unexplained_missing`)."""
    return unexplained_missing(
        total=plan.total,
        start=plan.start,
        yielded=dedup.yielded,
        duplicates=dedup.duplicates,
        first_total=plan.first_total,
        largest_total=plan.largest_total,
    )


def check_complete(plan: ScanPlan[Any], dedup: Dedup[Any], *, noun: str, where: str = "") -> None:
    """Raise `IncompleteScanError` if a finished listing surely missed items.

    ``where`` names the listing in the message (a fan-out's chat).
    """
    shortfall = plan.shortfall
    if shortfall is not None:
        raise _incomplete(shortfall, noun=noun, where=where)
    lost = known_missing(plan, dedup)
    if lost:
        total = plan.total
        raise IncompleteScanError(
            f"{where}the scan yielded {dedup.yielded} {noun} from offset {plan.start}, "
            f"{lost} fewer than the server's total of {total} counts, with "
            f"{dedup.duplicates} served twice (a sort with ties in another order on each "
            "request, or items that moved) and no growth of the total to explain them; "
            f"this listing cannot be searched by id to find the {noun} missed",
            missing=lost,
            at_offset=plan.head,
            total=total,
        )


def repeating_error(plan: ScanPlan[Any], *, noun: str, where: str = "") -> IncompleteScanError:
    """Return the error for a server that serves the same items again (see `Dedup`)."""
    head, total = plan.head, plan.total or 0
    return IncompleteScanError(
        f"{where}the server served {noun} already yielded, page after page, from offset "
        f"{head}, while its total of {total} counts {max(0, total - head)} more",
        missing=max(0, total - head),
        at_offset=head,
        total=plan.total,
    )


def _incomplete(shortfall: Shortfall, *, noun: str, where: str) -> IncompleteScanError:
    return IncompleteScanError(
        f"{where}the server's total counts {shortfall.total} {noun}, but it served none "
        f"from offset {shortfall.at_offset} on, asked again: {shortfall.missing} {noun} "
        "are missing",
        missing=shortfall.missing,
        at_offset=shortfall.at_offset,
        total=shortfall.total,
    )
