"""The task loop of every scan: requests in flight, answers to a plan, items out in order.

Shell code. A plan (`_core.paging.ScanPlan`, `_core.fanout.FanOutPlan`) decides
what to fetch and when items may go; `Engine` runs the requests as tasks, hands
each answer to the plan as its task completes (so pages keep arriving while the
consumer works on earlier items, up to the plan's lookahead), cancels what the
plan no longer needs, and stops every request at once when the scan is closed,
dropped or cancelled. `_shell.scan.Scan` and `_shell.fanout.FanOutScan` say how
to send a request and what a release becomes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import weakref
from typing import TYPE_CHECKING, Any, Generic, Protocol, Self, TypeVar

if TYPE_CHECKING:
    from collections.abc import Coroutine, Hashable, Sequence
    from types import TracebackType

    from helpcrunch_async._core.paging import PageResult
    from helpcrunch_async._shell.stats import ScanStats

__all__ = ["Engine", "Plan"]

T = TypeVar("T")
F = TypeVar("F", bound="Hashable")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


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
        # Raised by every later step once `abort` ended the scan before its end.
        self._aborted: BaseException | None = None
        self.stats = stats

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("running" if self._started else "new")
        return (
            f"<{type(self).__name__} {state} items={self.stats.items} "
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
            self._raise_if_aborted()
            raise StopAsyncIteration
        if not self._started:
            self._started = True
            self._wakeup = asyncio.Event()
            self._dispatch()
        assert self._wakeup is not None  # noqa: S101 -- set just above on first use
        try:
            while True:
                if self._closed:
                    # Closed by aclose() (the end the consumer chose), or
                    # aborted by the client while we waited (not an end).
                    self._raise_if_aborted()
                    raise StopAsyncIteration
                released = self._plan.release() if self._error is None else None
                if released is not None:
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
            # A page is an answer read; a release (which may join a repair to
            # its window, or hand out nothing at the end) is not.
            self.stats.pages += 1
            self._on_answer(fetch, page)
            self._plan.page_done(fetch, page.items, page.total)
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

    def _raise_if_aborted(self) -> None:
        if self._aborted is not None:
            raise self._aborted

    async def abort(self, error: BaseException) -> None:
        """Stop the scan as `aclose` does; unless it had ended, its consumer gets ``error``.

        The client calls it when it closes: a scan cut short by that must not
        end its ``async for`` as if every item had been read.
        """
        if not self._closed:
            self._aborted = error
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the scan: cancel every request in flight and wait until they are gone."""
        if self._closed and not self._tasks:
            return
        await self._shutdown()


def _on_done(
    scan_ref: weakref.ref[Engine[Any, Any, Any]], fetch: Any, task: asyncio.Task[Any]
) -> None:
    # A weak reference: running tasks must not keep an abandoned scan alive,
    # so that dropping it (a bare `break`) cancels its requests at once.
    scan = scan_ref()
    if scan is not None:
        scan._on_done(fetch, task)  # noqa: SLF001 -- the scan's own callback
