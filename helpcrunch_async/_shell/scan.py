"""The running scan behind every ``iter_*``: fetch tasks in, items out in order.

Shell code over `_core.paging.ScanPlan` (which window next, in which order) and
`_core.idset.IdSet` (seen before?). Fetching is driven by task completion
callbacks, not by the consumer, so pages keep arriving while the caller works on
earlier items, up to the plan's lookahead.

A resource builds a scan from two functions: ``fetch_page(offset, limit,
stats)``, which sends one request (counting its costs into ``stats``) and
returns a `PageResult`, and ``key(item)``, the item's integer id, by which
items seen twice are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import weakref
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar

from helpcrunch_async._core.idset import IdSet
from helpcrunch_async._core.paging import Fetch, PageResult, ScanPlan, ScanStats
from helpcrunch_async._models.customers import Customer

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["CustomerScan", "FetchPage", "PageResult", "Scan"]

logger = logging.getLogger("helpcrunch_async")

T = TypeVar("T")

# (offset, limit, stats) -> the page; the request's costs are counted into stats.
FetchPage = Callable[[int, int, ScanStats], Coroutine[Any, Any, PageResult[T]]]


class Scan(Generic[T]):
    """Every item of one listing, in the server's order, each at most once.

    Use it as an async iterator, and close it when you stop early: ``async with``,
    ``contextlib.aclosing`` or `aclose` cancel every request still in flight at
    once. ``stats`` tells what happened (requests, retries, 429s, duplicates
    dropped, total at start and end) while the scan runs and after it ends;
    ``stats.customers`` counts the items yielded, whatever their kind.

    ``fetch_page(offset, limit, stats)`` fetches one window, ``key(item)`` is
    the id by which an item seen twice is dropped; at most ``concurrency``
    requests are in flight, and at most twice that many windows are fetched
    ahead of the consumer. ``start`` skips the first items (resuming).
    """

    def __init__(
        self,
        fetch_page: FetchPage[T],
        *,
        key: Callable[[T], int],
        page_size: int,
        concurrency: int,
        start: int = 0,
    ) -> None:
        self._fetch_page = fetch_page
        self._key = key
        self._concurrency = concurrency
        # Twice the concurrency: a slow head page leaves the other workers a
        # full round of work before the reorder buffer stops them.
        self._plan: ScanPlan[T] = ScanPlan(
            page_size=page_size, lookahead=2 * concurrency, start=start
        )
        self._ids = IdSet()
        self._tasks: dict[Fetch, asyncio.Task[PageResult[T]]] = {}
        self._wakeup: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._error_offset: int | None = None
        self._batch: Sequence[T] = ()
        self._index = 0
        self._started = False
        self._closed = False
        self.stats = ScanStats(start_offset=start)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("running" if self._started else "new")
        return (
            f"<{type(self).__name__} {state} items={self.stats.customers} "
            f"requests={self.stats.requests} in_flight={len(self._tasks)}>"
        )

    def __aiter__(self) -> Self:
        return self

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # A scan dropped after `break` without aclose(): stop its requests now
        # rather than when the lookahead runs dry.
        for task in getattr(self, "_tasks", {}).values():
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                task.cancel()

    async def __anext__(self) -> T:
        if self._index < len(self._batch):
            item = self._batch[self._index]
            self._index += 1
            return item
        return await self._next_batch()

    async def _next_batch(self) -> T:
        if self._closed:
            raise StopAsyncIteration
        if not self._started:
            self._started = True
            self._wakeup = asyncio.Event()
            self._dispatch()
        assert self._wakeup is not None  # noqa: S101 -- set just above on first use
        try:
            while True:
                if self._closed:
                    # Closed by aclose() or by the client while we waited.
                    raise StopAsyncIteration
                items = self._plan.release()
                if items is not None:
                    self.stats.pages += 1
                    fresh = self._fresh(items)
                    if fresh:
                        self._batch = fresh
                        self._index = 1
                        # The head moved: windows further on may start now.
                        self._dispatch()
                        return fresh[0]
                    self._dispatch()
                    continue
                if self._error is not None:
                    error = self._error
                    await self._shutdown()
                    raise error
                if self._plan.done:
                    await self._finish()
                    raise StopAsyncIteration
                # The head may wait for a repair window that has yet to start.
                self._dispatch()
                self._wakeup.clear()
                await self._wakeup.wait()
        except asyncio.CancelledError:
            self._abandon()
            raise

    def _fresh(self, items: Sequence[T]) -> list[T]:
        key = self._key
        new = self._ids.add_many([key(item) for item in items])
        fresh = [item for item, is_new in zip(items, new, strict=True) if is_new]
        dropped = len(items) - len(fresh)
        if dropped:
            self.stats.duplicates += dropped
            logger.info("dropped %d items already yielded (offsets shifted)", dropped)
        self.stats.customers += len(fresh)
        return fresh

    def _dispatch(self) -> None:
        if self._closed or self._error is not None:
            return
        while len(self._tasks) < self._concurrency:
            fetch = self._plan.next_fetch()
            if fetch is None:
                return
            if fetch.repair_for is not None:
                self.stats.repairs += 1
                logger.info(
                    "the total changed between two windows: fetching %d customers at offset %d "
                    "again so that none slips past",
                    fetch.limit,
                    fetch.offset,
                )
            task = asyncio.create_task(self._fetch_page(fetch.offset, fetch.limit, self.stats))
            self._tasks[fetch] = task
            task.add_done_callback(functools.partial(_on_done, weakref.ref(self), fetch))

    def _on_done(self, fetch: Fetch, task: asyncio.Task[PageResult[T]]) -> None:
        self._tasks.pop(fetch, None)
        if task.cancelled():
            return
        offset = fetch.offset
        error = task.exception()
        if error is not None:
            if self._error is None or (
                self._error_offset is not None and offset < self._error_offset
            ):
                # The earliest failed window decides which error the caller sees.
                self._error, self._error_offset = error, offset
            self._cancel_all()
        else:
            page = task.result()
            self._plan.page_done(fetch, page.items, page.total)
            if page.total is not None:
                if self.stats.total_at_start is None:
                    self.stats.total_at_start = page.total
                elif page.total != self.stats.total_at_end:
                    logger.info(
                        "total changed during the scan: %s -> %d",
                        self.stats.total_at_end,
                        page.total,
                    )
                self.stats.total_at_end = page.total
            self._dispatch()
        if self._wakeup is not None:
            self._wakeup.set()

    def _abandon(self) -> None:
        # A cancelled consumer ends the scan: a page that finished just before,
        # whose callback has yet to run, must not start new requests.
        self._closed = True
        self._cancel_all()
        if self.stats.finished_at is None:
            self.stats.finished_at = time.monotonic()

    def _cancel_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()

    async def _shutdown(self) -> None:
        self._closed = True
        self._cancel_all()
        if self._wakeup is not None:
            self._wakeup.set()
        tasks = list(self._tasks.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._batch = ()
        self._index = 0
        if self.stats.finished_at is None:
            self.stats.finished_at = time.monotonic()

    async def _finish(self) -> None:
        await self._shutdown()
        stats = self.stats
        if stats.total_changed or stats.duplicates or stats.missing:
            logger.warning(
                "the data changed during the scan: total %s -> %s, %d duplicates dropped, "
                "%d items the final total counts were not seen",
                stats.total_at_start,
                stats.total_at_end,
                stats.duplicates,
                stats.missing,
            )

    async def aclose(self) -> None:
        """Stop the scan: cancel every request in flight and wait until they are gone."""
        if self._closed and not self._tasks:
            return
        await self._shutdown()


class CustomerScan(Scan[Customer]):
    """Every customer of the account, in the server's sort order, each at most once.

    A `Scan` of `Customer` items keyed by ``id``: what ``customers.iter_all``
    returns.
    """


def _on_done(
    scan_ref: weakref.ref[Scan[T]], fetch: Fetch, task: asyncio.Task[PageResult[T]]
) -> None:
    # A weak reference: running tasks must not keep an abandoned scan alive,
    # so that dropping it (a bare `break`) cancels its requests at once.
    scan = scan_ref()
    if scan is not None:
        scan._on_done(fetch, task)  # noqa: SLF001 -- the scan's own callback
