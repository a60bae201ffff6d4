"""The scan behind every ``iter_*``: one listing's items, in order, each at most once.

Shell code over `_core.paging.ScanPlan` (which window next, in which order),
run by `_shell.engine.Engine` (the task loop) and checked by `_shell.checks`
(seen before? complete?). A resource builds a scan from two functions:
``fetch_page(offset, limit, stats)``, which sends one request (counting its
costs into ``stats``) and returns a `PageResult`, and ``key(item)``, the
item's integer id, by which items seen twice are dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

from helpcrunch_async._core.paging import Fetch, PageResult, ScanPlan
from helpcrunch_async._shell.checks import Dedup, check_complete, known_missing, repeating_error
from helpcrunch_async._shell.engine import Engine
from helpcrunch_async._shell.recount import FetchRange, Recount
from helpcrunch_async._shell.stats import ScanStats

__all__ = ["FetchPage", "FetchRange", "PageResult", "Scan"]

logger = logging.getLogger("helpcrunch_async")

T = TypeVar("T")

# (offset, limit, stats) -> the page; the request's costs are counted into stats.
FetchPage = Callable[[int, int, ScanStats], Coroutine[Any, Any, PageResult[T]]]


class Scan(Engine[Fetch, Sequence[T], T]):
    """Every item of one listing, in the server's order, each at most once.

    Use it as an async iterator, and close it when you stop early: ``async with``,
    ``contextlib.aclosing`` or `aclose` cancel every request still in flight at
    once. ``stats`` tells what happened (requests, retries, 429s, duplicates
    dropped, total at start and end) while the scan runs and after it ends;
    ``stats.items`` counts the items yielded.

    ``fetch_page(offset, limit, stats)`` fetches one window, ``key(item)`` is
    the id by which an item seen twice is dropped; at most ``concurrency``
    requests are in flight, and at most twice that many windows are fetched
    ahead of the consumer. ``start`` skips the first items (resuming).
    ``noun`` names the items in log lines and errors ("chats", "messages").

    A scan never ends short as if it were complete: when the server's pages
    stop before its total (empty pages where it counts more, the same items
    again), or the items yielded fall short of the total by more than the
    inserts behind it explain (items served twice in place of others, as a
    sort whose ties come in another order on each request serves them), it
    raises `IncompleteScanError` after the items it did read. Given
    ``recount(lo, hi, limit, stats)``, which reads the listing's items with an
    id in ``[lo, hi)`` and their count (a search on the id), a scan from
    offset 0 (or given the ids before ``start`` as ``seen``, as a resumed
    export is) first finds what it missed by counting id ranges (`Recount`):
    those items come last, and the scan is complete only if the count then
    agrees. Items whose id is in ``seen`` are never yielded.
    """

    def __init__(
        self,
        fetch_page: FetchPage[T],
        *,
        key: Callable[[T], int],
        page_size: int,
        concurrency: int,
        start: int = 0,
        noun: str | None = None,
        recount: FetchRange[T] | None = None,
        seen: Iterable[int] = (),
    ) -> None:
        if noun is not None:
            self._noun = noun
        # Twice the concurrency: a slow head page leaves the other workers a
        # full round of work before the reorder buffer stops them.
        plan: ScanPlan[T] = ScanPlan(page_size=page_size, lookahead=2 * concurrency, start=start)
        super().__init__(plan, concurrency=concurrency, stats=ScanStats(start_offset=start))
        self._scan_plan = plan
        self._fetch_page = fetch_page
        self._dedup: Dedup[T] = Dedup(key)
        # The ids before ``start``, when the caller knows them: a recount needs them all.
        self._known_before = self._dedup.preload(seen)
        self._key = key
        self._recount = recount
        self._second: Recount[T] | None = None

    async def _next_batch(self) -> T:
        # Once a page, not once an item: the recount, if one starts, comes after the end.
        if self._second is None:
            try:
                return await super()._next_batch()
            except StopAsyncIteration:
                if self._second is None:
                    raise
        return await self._second.__anext__()

    async def abort(self, error: BaseException) -> None:
        """Stop the scan (and its recount, if one runs); see `Engine.abort`."""
        if self._second is not None:
            await self._second.abort(error)
        await super().abort(error)

    async def aclose(self) -> None:
        """Stop the scan and its recount, if one runs; see `Engine.aclose`."""
        await super().aclose()
        if self._second is not None:
            await self._second.aclose()

    @property
    def page_size(self) -> int:
        """The page size the scan asks for now: smaller once the server served smaller pages."""
        return self._scan_plan.page_size

    def _request(self, fetch: Fetch) -> Coroutine[Any, Any, PageResult[T]]:
        if fetch.repair_for is not None:
            self.stats.repairs += 1
            logger.info(
                "the total changed between two windows: fetching %d %s at offset %d "
                "again so that none slips past",
                fetch.limit,
                self._noun,
                fetch.offset,
            )
        elif fetch.probe:
            logger.warning(
                "an empty page at offset %d where the total counts more: asking the server again",
                fetch.offset,
            )
        return self._fetch_page(fetch.offset, fetch.limit, self.stats)

    def _rank(self, fetch: Fetch) -> tuple[int, ...]:
        return (fetch.offset,)

    def _on_answer(self, fetch: Fetch, page: PageResult[T]) -> None:  # noqa: ARG002 -- a hook
        total = page.total
        if total is None:
            return
        stats = self.stats
        if stats.total_at_start is None:
            stats.total_at_start = total
        elif total != stats.total_at_end:
            logger.info("total changed during the scan: %s -> %d", stats.total_at_end, total)
        stats.total_at_end = total

    def _deliver(self, released: Sequence[T]) -> list[T]:
        dedup = self._dedup
        before = dedup.duplicates
        fresh = dedup.fresh(released)
        dropped = dedup.duplicates - before
        if dropped:
            self.stats.duplicates += dropped
            logger.info("dropped %d %s already yielded (offsets shifted)", dropped, self._noun)
        self.stats.items += len(fresh)
        plan = self._scan_plan
        if dedup.repeating(released, fresh, plan.total):
            if plan.total is None:
                plan.stop()
            else:
                self._fail(repeating_error(plan, noun=self._noun), (plan.head,))
        return fresh

    def _check_end(self) -> None:
        plan, dedup = self._scan_plan, self._dedup
        missing = known_missing(plan, dedup)
        knows_start = plan.start == self._known_before
        if missing and plan.shortfall is None and self._recount is not None and knows_start:
            self._second = Recount(
                self._recount,
                listing=plan,
                dedup=dedup,
                key=self._key,
                missing=missing,
                concurrency=self._concurrency,
                stats=self.stats,
                noun=self._noun,
            )
            return
        check_complete(plan, dedup, noun=self._noun)
        stats = self.stats
        if stats.total_changed or stats.duplicates or stats.missing:
            logger.warning(
                "the data changed during the scan: total %s -> %s, %d duplicates dropped, "
                "%d %s the final total counts were not seen",
                stats.total_at_start,
                stats.total_at_end,
                stats.duplicates,
                stats.missing,
                self._noun,
            )
