"""Rate budgets: the waiting shell around the cap's arithmetic.

A budget hands out one slot per attempt on the wire and hears about every 429.
`LocalBudget` keeps the cap for one process; share one instance among several
clients to share one API key's cap. `RateBudget` is the protocol a budget kept
elsewhere (for example in Redis, shared by many processes) implements.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from helpcrunch_async._core.cap import Cap, CapSnapshot

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Coroutine

__all__ = ["ClosingBudget", "LocalBudget", "RateBudget"]

logger = logging.getLogger("helpcrunch_async")


@runtime_checkable
class RateBudget(Protocol):
    """What a client needs of a rate budget: every hook, each called once per attempt.

    The transport is the only caller, from the middleware every attempt on the
    wire passes, in this order:

    1. ``acquire()`` waits until one more request may leave, records it as sent
       and returns a stamp of the send time on the budget's own clock;
    2. ``on_sent(stamp, delay)`` when the request reached the wire ``delay``
       seconds after its slot (it had to open a connection first), so the log
       can hold when it really left (only with a session the client created);
    3. ``on_answered(stamp, delay, rate_limited)`` when the answer's headers
       came ``delay`` seconds after the slot, so the log can hold a request
       that may have been counted late for longer;
    4. ``on_rate_limited(stamp, retry_after)`` for a 429, returning the pause
       every request now observes in seconds (it travels back to the caller in
       the answer), or ``on_success(stamp)`` for any other status.

    Before a send, ``pause_left()`` tells how long the latest 429's pause still
    holds every request, so a client with ``max_rate_limit_wait`` can fail at
    once instead of waiting. A budget must implement every member:
    `HelpCrunch` refuses one that does not.
    """

    @property
    def limit(self) -> int:
        """Requests allowed per period."""
        ...

    @property
    def period(self) -> float:
        """The period in seconds."""
        ...

    async def acquire(self) -> float:
        """Wait for a slot, record the send, return its time stamp."""
        ...

    async def on_sent(self, sent_at: float, delay: float) -> None:
        """Record that the request stamped ``sent_at`` left ``delay`` s after its slot."""
        ...

    async def on_answered(self, sent_at: float, delay: float, rate_limited: bool) -> None:
        """Record that the request stamped ``sent_at`` was answered ``delay`` s after its slot."""
        ...

    async def on_success(self, sent_at: float) -> None:
        """Record a non-429 answer to the request stamped ``sent_at``."""
        ...

    async def on_rate_limited(self, sent_at: float, retry_after: float | None) -> float:
        """Record a 429 for the request stamped ``sent_at``; return the pause in seconds."""
        ...

    def pause_left(self) -> float:
        """Return the seconds the latest known 429's pause still holds every request (0 if none)."""
        ...


@runtime_checkable
class ClosingBudget(Protocol):
    """A rate budget holding a connection of its own (a shared Redis budget)."""

    async def aclose(self) -> None:
        """Release the budget's connection."""


class LocalBudget:
    """The cap of one process: at most ``limit`` requests in any ``period`` seconds.

    Waiters are served first come, first served. The sliding log of `_core.cap` lets a
    whole period's budget go at once and holds every later request to the
    window; once a server has refused a burst, requests are also paced at the
    interval the cap decided. Safe to share among clients and tasks of one event
    loop, and among event loops in several threads: every decision of the cap
    (check and record in one step) is made under one thread lock, held only for
    the arithmetic, never across a wait.

    ``clock`` (seconds, monotonic) and ``sleep`` are the only time the budget
    knows: every stamp is read from ``clock`` and every wait for a slot is one
    ``sleep`` (cut short when a probe's answer frees the waiters), so a test
    injects both and decides when time passes. Why not a leaky bucket such as
    ``aiolimiter``: docs/design.md, "The cap".
    """

    def __init__(
        self,
        limit: int = 120,
        period: float = 60.0,
        *,
        margin: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Coroutine[object, object, None]] = asyncio.sleep,
    ) -> None:
        self._cap = Cap(limit, period, margin=margin)
        self._clock = clock
        self._sleep = sleep
        # The cap's state is shared by every thread; its decisions are atomic under this.
        self._guard = threading.Lock()
        # First come, first served among the tasks of each event loop.
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        # Set when a probe's answer (rule 6 of the cap) frees the bursts waiting on it:
        # the head waiter of each loop wakes before its slot's time.
        self._wakeups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"LocalBudget(limit={self.limit}, period={self.period})"

    @property
    def limit(self) -> int:
        """Requests allowed per period."""
        return self._cap.limit

    @property
    def period(self) -> float:
        """The period in seconds."""
        return self._cap.period

    def snapshot(self) -> CapSnapshot:
        """Return what the cap has decided so far."""
        with self._guard:
            return self._cap.snapshot()

    async def acquire(self) -> float:
        """Wait for a slot, record the send, return its time (on the budget's clock)."""
        async with self._queue() as wakeup:
            while True:
                wakeup.clear()
                with self._guard:
                    now = self._clock()
                    # Re-read the cap after each sleep: a 429 may have paused everyone.
                    at = self._cap.next_paced_slot(now)
                    if at <= now:
                        self._cap.record(now)
                        return now
                await self._wait(at - now, wakeup)

    async def on_sent(self, sent_at: float, delay: float) -> None:
        """Record that the request stamped ``sent_at`` reached the wire ``delay`` s later."""
        with self._guard:
            self._cap.correct(sent_at, sent_at + delay)

    async def on_answered(self, sent_at: float, delay: float, rate_limited: bool) -> None:
        """Record that the request stamped ``sent_at`` was answered ``delay`` s after its slot."""
        with self._guard:
            self._cap.settle(sent_at, sent_at + delay, rate_limited=rate_limited)

    async def on_success(self, sent_at: float) -> None:
        """Record a non-429 answer."""
        with self._guard:
            probing = self._cap.probing
            self._cap.on_success(sent_at)
            if probing and not self._cap.probing:
                self._wake()

    async def on_rate_limited(self, sent_at: float, retry_after: float | None) -> float:
        """Record a 429; every request of this budget now pauses for the returned seconds."""
        with self._guard:
            before = self._cap.spacing
            pause = self._cap.on_rate_limited(self._clock(), sent_at, retry_after)
            spacing, allowance = self._cap.spacing, self._cap.allowance
        if spacing != before:
            logger.warning(
                "the server refused a request the sliding log allowed: pacing at one "
                "request every %.3f s (%d per %.1f s)",
                spacing,
                allowance,
                self._cap.period,
            )
        return pause

    def pause_left(self) -> float:
        """Return the seconds the latest 429's pause still holds every request (0 if none)."""
        with self._guard:
            return max(0.0, self._cap.pause_until - self._clock())

    async def _wait(self, seconds: float, wakeup: asyncio.Event) -> None:
        """Sleep ``seconds``, or until ``wakeup`` is set if that comes first."""
        sleeping = asyncio.ensure_future(self._sleep(seconds))
        woken = asyncio.ensure_future(wakeup.wait())
        try:
            await asyncio.wait((sleeping, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            woken.cancel()
            # Both are done before the wait returns or raises: nothing is left pending.
            await asyncio.wait((sleeping, woken))

    @contextlib.asynccontextmanager
    async def _queue(self) -> AsyncIterator[asyncio.Event]:
        """Wait for this loop's turn; yield the event that wakes the head waiter early."""
        loop = asyncio.get_running_loop()
        with self._guard:
            lock = self._queues.get(loop)
            if lock is None:
                # An asyncio.Lock and an Event belong to the loop that first waits on them.
                lock = self._queues[loop] = asyncio.Lock()
                self._wakeups[loop] = asyncio.Event()
            wakeup = self._wakeups[loop]
        async with lock:
            yield wakeup

    def _wake(self) -> None:
        """Wake the head waiter of every loop (called under the guard)."""
        for loop, wakeup in list(self._wakeups.items()):
            with contextlib.suppress(RuntimeError):  # a loop closed meanwhile
                loop.call_soon_threadsafe(wakeup.set)
