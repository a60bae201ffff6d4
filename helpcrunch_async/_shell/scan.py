"""The running scan behind every ``iter_*``: fetch tasks in, items out in order.

Shell code over `_core.paging.ScanPlan` (which window next, in which order) and
`_core.idset.IdSet` (seen before?). Fetching is driven by task completion
callbacks, not by the consumer, so pages keep arriving while the caller works on
earlier items, up to the plan's lookahead.

A resource builds a scan from two functions: ``fetch_page(offset, limit,
stats)``, which sends one request (counting its costs into ``stats``) and
returns a `PageResult`, and ``key(item)``, the item's integer id, by which
items seen twice are dropped. `Engine` is the task loop itself, shared with
the fan-out over many listings (`_shell.fanout`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import weakref
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar

from helpcrunch_async._core.idset import IdSet
from helpcrunch_async._core.paging import (
    Fetch,
    PageResult,
    ScanPlan,
    ScanStats,
    Shortfall,
    unexplained_missing,
)
from helpcrunch_async._errors import IncompleteScanError
from helpcrunch_async._models.customers import Customer

if TYPE_CHECKING:
    from collections.abc import Hashable
    from types import TracebackType

__all__ = ["CustomerScan", "Engine", "FetchPage", "PageResult", "Scan"]

logger = logging.getLogger("helpcrunch_async")

T = TypeVar("T")
F = TypeVar("F", bound="Hashable")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

# (offset, limit, stats) -> the page; the request's costs are counted into stats.
FetchPage = Callable[[int, int, ScanStats], Coroutine[Any, Any, PageResult[T]]]

# The opening's second request is taken for slow, not refused, this many times
# the first one's round trip after the first answer (and at least _OPEN_FLOOR s):
# a 429 comes back as fast as a page, and the budget hears of it at once.
_OPEN_AFTER = 4.0
_OPEN_FLOOR = 0.25

# Pages in a row that bring only items seen before, with a total that did not
# grow, before a scan calls the server's answers a loop rather than drift.
_REPEATS = 3


class Plan(Protocol[F, R_co]):
    """What `Engine` asks of a plan: `ScanPlan`, or the fan-out's plan."""

    @property
    def done(self) -> bool:
        """Whether nothing is left to fetch or release."""
        ...

    def next_fetch(self) -> F | None:
        """Return the next request to send now, or None."""
        ...

    def page_done(self, fetch: F, items: Sequence[Any], total: int | None) -> None:
        """Record an answer."""
        ...

    def release(self) -> R_co | None:
        """Return what may go to the consumer now, or None."""
        ...

    def obsolete(self) -> list[F]:
        """Return requests in flight that are no longer needed."""
        ...

    def cancel(self, fetch: F) -> None:
        """Forget a request the shell cancelled."""
        ...

    @property
    def opening(self) -> bool:
        """Whether the opening's second request is still unanswered after the first."""
        ...

    def open_now(self) -> None:
        """Stop waiting for the opening's second answer."""
        ...


class Engine(Generic[F, R, T]):
    """The task loop of a scan: requests in flight, answers to the plan, items out in order.

    Subclasses say how to send a request (`_request`), what a release becomes
    (`_deliver`: dedup, checks), which failures they absorb (`_absorb`) and
    what ending means (`_check_end`).
    """

    _noun = "items"

    def __init__(self, plan: Plan[F, R], *, concurrency: int, stats: ScanStats) -> None:
        self._plan = plan
        self._concurrency = concurrency
        self._tasks: dict[F, asyncio.Task[PageResult[T]]] = {}
        self._wakeup: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._error_rank: tuple[int, ...] | None = None
        self._batch: Sequence[T] = ()
        self._index = 0
        self._started = False
        self._closed = False
        self._first_sent: float | None = None
        self._open_timer: asyncio.TimerHandle | None = None
        self.stats = stats

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

    # -- what subclasses decide -------------------------------------------------

    def _request(self, fetch: F) -> Coroutine[Any, Any, PageResult[T]]:
        raise NotImplementedError

    def _deliver(self, released: R) -> list[T]:
        raise NotImplementedError

    def _absorb(self, fetch: F, error: BaseException) -> bool:  # noqa: ARG002 -- a hook
        """Return True if ``error`` for ``fetch`` is handled and the scan goes on."""
        return False

    def _rank(self, fetch: F) -> tuple[int, ...]:
        """Order of requests: the earliest failed one decides the error the caller sees."""
        raise NotImplementedError

    def _on_answer(self, fetch: F, page: PageResult[T]) -> None:
        """Note an answer's total in the stats (before the plan hears of it)."""

    def _check_end(self) -> None:
        """Raise if the scan ended short of what it should have read."""

    # -- the loop ---------------------------------------------------------------

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
                released = self._plan.release() if self._error is None else None
                if released is not None:
                    self.stats.pages += 1
                    fresh = self._deliver(released)
                    # The head moved: windows further on may start now.
                    self._dispatch()
                    if fresh:
                        self._batch = fresh
                        self._index = 1
                        return fresh[0]
                    continue
                if self._error is not None:
                    error = self._error
                    await self._shutdown()
                    raise error
                if self._plan.done:
                    await self._shutdown()
                    self._check_end()
                    raise StopAsyncIteration
                # The head may wait for a repair, fill or probe that has yet to start.
                self._dispatch()
                self._wakeup.clear()
                await self._wakeup.wait()
        except asyncio.CancelledError:
            self._abandon()
            raise

    def _fail(self, error: BaseException, rank: tuple[int, ...] = ()) -> None:
        """End the scan with ``error`` (the earliest request's error wins)."""
        if self._error is None or (self._error_rank is not None and rank < self._error_rank):
            self._error, self._error_rank = error, rank
        self._cancel_all()

    def _before_dispatch(self) -> None:
        """Prepare the plan before requests are taken from it (the fan-out feeds keys)."""

    def _dispatch(self) -> None:
        if self._closed or self._error is not None:
            return
        self._before_dispatch()
        plan = self._plan
        for stale in plan.obsolete():
            task = self._tasks.pop(stale, None)
            if task is not None:
                task.cancel()
            plan.cancel(stale)
        while len(self._tasks) < self._concurrency:
            fetch = plan.next_fetch()
            if fetch is None:
                return
            if self._first_sent is None:
                self._first_sent = time.monotonic()
            task = asyncio.create_task(self._request(fetch))
            self._tasks[fetch] = task
            task.add_done_callback(functools.partial(_on_done, weakref.ref(self), fetch))

    def _on_done(self, fetch: F, task: asyncio.Task[PageResult[T]]) -> None:
        if self._tasks.pop(fetch, None) is None or task.cancelled():
            return
        error = task.exception()
        if error is not None:
            if not self._absorb(fetch, error):
                self._fail(error, self._rank(fetch))
        else:
            page = task.result()
            self._on_answer(fetch, page)
            self._plan.page_done(fetch, page.items, page.total)
            self._time_the_opening()
        self._dispatch()
        if self._wakeup is not None:
            self._wakeup.set()

    def _time_the_opening(self) -> None:
        """After the first answer, open the rest later if the opening's second is slow."""
        if self._open_timer is not None or not self._plan.opening:
            return
        assert self._first_sent is not None  # noqa: S101 -- a request was sent
        trip = time.monotonic() - self._first_sent
        self._open_timer = asyncio.get_running_loop().call_later(
            max(_OPEN_FLOOR, _OPEN_AFTER * trip), _open, weakref.ref(self)
        )

    def _open(self) -> None:
        if self._closed or self._error is not None or not self._plan.opening:
            return
        logger.info("the opening's second request is slow: fetching the rest without it")
        self._plan.open_now()
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
        if self._open_timer is not None:
            self._open_timer.cancel()
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

    async def aclose(self) -> None:
        """Stop the scan: cancel every request in flight and wait until they are gone."""
        if self._closed and not self._tasks:
            return
        await self._shutdown()


class Dedup(Generic[T]):
    """Items of one listing seen before, and the checks that need them."""

    __slots__ = ("_ids", "_key", "_repeats", "_repeats_total", "duplicates", "yielded")

    def __init__(self, key: Callable[[T], int]) -> None:
        self._key = key
        self._ids = IdSet()
        self._repeats = 0
        self._repeats_total: int | None = None
        self.duplicates = 0
        self.yielded = 0

    def fresh(self, items: Sequence[T]) -> list[T]:
        """Return the items not seen before, in order, and count the rest."""
        key = self._key
        new = self._ids.add_many([key(item) for item in items])
        fresh = [item for item, is_new in zip(items, new, strict=True) if is_new]
        self.duplicates += len(items) - len(fresh)
        self.yielded += len(fresh)
        return fresh

    def repeating(self, items: Sequence[T], fresh: Sequence[T], total: int | None) -> bool:
        """Whether the server serves seen items again and again instead of the next ones.

        Pages in a row with items but nothing new, while the total did not grow:
        one such page for a listing without a total (the server ignores the
        offset and serves the whole list again), `_REPEATS` otherwise.
        """
        if fresh or not items:
            self._repeats, self._repeats_total = 0, total
            return False
        self._repeats += 1
        if total is None:
            return True
        grew = self._repeats_total is not None and total > self._repeats_total
        return self._repeats >= _REPEATS and not grew


def check_complete(plan: ScanPlan[Any], dedup: Dedup[Any], *, noun: str, where: str = "") -> None:
    """Raise `IncompleteScanError` if a finished listing fell short of its total.

    ``where`` names the listing in the message (a fan-out's chat).
    """
    shortfall = plan.shortfall
    if shortfall is not None:
        raise _incomplete(shortfall, noun=noun, where=where)
    lost = unexplained_missing(
        total=plan.total,
        start=plan.start,
        yielded=dedup.yielded,
        duplicates=dedup.duplicates,
        largest_total=plan.largest_total,
    )
    if lost:
        total = plan.total
        raise IncompleteScanError(
            f"{where}the scan yielded {dedup.yielded} {noun} from offset {plan.start}, "
            f"{lost} fewer than the server's total of {total} counts, and no drift the scan "
            f"saw ({dedup.duplicates} duplicates, the total at most {plan.largest_total}) "
            "explains them",
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


class Scan(Engine[Fetch, Sequence[T], T]):
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

    A scan never ends short as if it were complete: when the server's pages
    stop before its total (empty pages where it counts more, the same items
    again), or the items yielded fall short of the total by more than the
    deletions and moves the scan saw, it raises `IncompleteScanError` after
    the items it did read.
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
        # Twice the concurrency: a slow head page leaves the other workers a
        # full round of work before the reorder buffer stops them.
        plan: ScanPlan[T] = ScanPlan(page_size=page_size, lookahead=2 * concurrency, start=start)
        super().__init__(plan, concurrency=concurrency, stats=ScanStats(start_offset=start))
        self._scan_plan = plan
        self._fetch_page = fetch_page
        self._dedup: Dedup[T] = Dedup(key)

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
        self.stats.customers += len(fresh)
        plan = self._scan_plan
        if dedup.repeating(released, fresh, plan.total):
            if plan.total is None:
                plan.stop()
            else:
                self._fail(repeating_error(plan, noun=self._noun), (plan.head,))
        return fresh

    def _check_end(self) -> None:
        check_complete(self._scan_plan, self._dedup, noun=self._noun)
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


class CustomerScan(Scan[Customer]):
    """Every customer of the account, in the server's sort order, each at most once.

    A `Scan` of `Customer` items keyed by ``id``: what ``customers.iter_all``
    returns.
    """

    _noun = "customers"


def _on_done(
    scan_ref: weakref.ref[Engine[Any, Any, Any]], fetch: Any, task: asyncio.Task[Any]
) -> None:
    # A weak reference: running tasks must not keep an abandoned scan alive,
    # so that dropping it (a bare `break`) cancels its requests at once.
    scan = scan_ref()
    if scan is not None:
        scan._on_done(fetch, task)  # noqa: SLF001 -- the scan's own callback


def _open(scan_ref: weakref.ref[Engine[Any, Any, Any]]) -> None:
    # Weak, as in _on_done: a pending timer must not keep an abandoned scan alive.
    scan = scan_ref()
    if scan is not None:
        scan._open()  # noqa: SLF001 -- the scan's own timer
