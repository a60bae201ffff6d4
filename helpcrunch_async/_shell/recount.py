"""The second phase of a scan that knows it missed items: find them by counting id ranges.

Shell code over `_core.recount.RecountPlan`, on the same task loop as every
scan (`_shell.engine.Engine`), with the scan's own stats and its `Dedup`, so
what it finds counts as yielded and nothing comes out twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from helpcrunch_async._core.paging import PageResult
from helpcrunch_async._core.recount import Ask, RecountPlan
from helpcrunch_async._errors import IncompleteScanError
from helpcrunch_async._shell.engine import Engine
from helpcrunch_async._shell.stats import ScanStats

if TYPE_CHECKING:
    from helpcrunch_async._core.paging import ScanPlan
    from helpcrunch_async._shell.checks import Dedup

__all__ = ["FetchRange", "Recount"]

logger = logging.getLogger("helpcrunch_async")

T = TypeVar("T")

# (lo, hi, limit, stats) -> up to ``limit`` items with an id in [lo, hi), and how many there are.
FetchRange = Callable[[int, int, int, ScanStats], Coroutine[Any, Any, PageResult[T]]]


class Recount(Engine[Ask, Sequence[T], T]):
    """The items a finished scan missed, found by id range; it raises if some stay missing.

    ``listing`` is the scan's finished plan, ``dedup`` its seen ids, ``missing``
    how many it knows it missed.
    """

    def __init__(
        self,
        fetch_range: FetchRange[T],
        *,
        listing: ScanPlan[T],
        dedup: Dedup[T],
        key: Callable[[T], int],
        missing: int,
        concurrency: int,
        stats: ScanStats,
        noun: str,
    ) -> None:
        plan: RecountPlan[T] = RecountPlan(dedup.ids(), key=key, page_size=listing.page_size)
        super().__init__(plan, concurrency=concurrency, stats=stats)
        self._recount = plan
        self._fetch_range = fetch_range
        self._listing = listing
        self._dedup = dedup
        self._missing = missing
        self._noun = noun
        self._before = dedup.yielded
        self._requests_before = stats.requests
        stats.finished_at = None
        logger.warning(
            "%d %s the server's total counts were not yielded (%d served twice under a "
            "total that did not grow): counting id ranges to find them",
            missing,
            noun,
            dedup.duplicates,
        )

    def _request(self, fetch: Ask) -> Coroutine[Any, Any, PageResult[T]]:
        return self._fetch_range(fetch.lo, fetch.hi, self._recount.limit(fetch), self.stats)

    def _rank(self, fetch: Ask) -> tuple[int, ...]:
        return (fetch.lo,)

    def _deliver(self, released: Sequence[T]) -> list[T]:
        fresh = self._dedup.fresh(released)
        self.stats.items += len(fresh)
        return fresh

    def _check_end(self) -> None:
        plan, listing, noun = self._recount, self._listing, self._noun
        total = plan.total if plan.total is not None else listing.total
        assert total is not None  # noqa: S101 -- a recount follows a listing with a total
        self.stats.total_at_end = total
        # Known before the scan or yielded by it, and still there, against the count now.
        held = listing.start + self._dedup.yielded - plan.gone
        lost = max(0, total - held)
        if plan.uncountable is not None or lost:
            reason = (
                f"was not possible: {plan.uncountable}"
                if plan.uncountable is not None
                else f"left {lost} of the server's {total} unfound"
            )
            raise IncompleteScanError(
                f"the scan missed {self._missing} {noun} (served twice in place of others, "
                f"under a total that did not grow), and counting id ranges {reason}",
                missing=lost or self._missing,
                at_offset=listing.head,
                total=total,
            )
        logger.warning(
            "found the %d %s the scan had missed, in %d requests",
            self._dedup.yielded - self._before,
            noun,
            self.stats.requests - self._requests_before,
        )
