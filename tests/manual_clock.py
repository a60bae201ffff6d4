"""A clock that moves only when a test moves it, and the sleep that goes with it.

Injected into a budget (``LocalBudget(..., clock=clock, sleep=clock.sleep)``),
it makes waiting exact: a sleeper wakes when `advance` passes its time and
never before, so a test asserts what was waited for, not how long it took.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools


class ManualClock:
    """Time in seconds that moves only by `advance`; `sleep` waits for it."""

    def __init__(self, start: float = 1000.0) -> None:
        """Start at ``start`` seconds (any value: only differences matter)."""
        self.now = start
        self.slept: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        # Set at each new sleeper, for `until_sleeping`.
        self._new_sleeper = asyncio.Event()

    def __call__(self) -> float:
        """Return the current time."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Wait until the clock has moved ``seconds`` on (record the request in `slept`)."""
        self.slept.append(seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), wake))
        self._new_sleeper.set()
        await wake

    async def until_sleeping(self, count: int) -> None:
        """Return once ``count`` sleepers wait (bound it with a timeout: time never passes)."""
        while len(self.sleeping) < count:
            self._new_sleeper.clear()
            await self._new_sleeper.wait()

    @property
    def sleeping(self) -> list[float]:
        """The wake-up times of the sleepers still waiting, earliest first."""
        return sorted(at for at, _, wake in self._sleepers if not wake.done())

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on and wake every sleeper whose time has come."""
        self.now += seconds
        while self._sleepers and self._sleepers[0][0] <= self.now:
            _, _, wake = heapq.heappop(self._sleepers)
            if not wake.done():
                wake.set_result(None)
