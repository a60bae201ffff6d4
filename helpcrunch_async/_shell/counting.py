"""A rate budget that counts every attempt on the wire and hands every hook on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from helpcrunch_async._shell.budget import RateBudget

__all__ = ["CountingBudget"]


class CountingBudget:
    """A rate budget that counts the slots it hands out (every attempt on the wire).

    The import and the sync report what a run spent with it; every hook goes to
    ``inner`` unchanged.
    """

    def __init__(self, inner: RateBudget) -> None:
        """Count the requests that ``inner`` admits."""
        self.inner = inner
        self.requests = 0

    def __repr__(self) -> str:
        return f"CountingBudget({self.inner!r}, requests={self.requests})"

    @property
    def limit(self) -> int:
        """Requests allowed per period."""
        return self.inner.limit

    @property
    def period(self) -> float:
        """The period in seconds."""
        return self.inner.period

    async def acquire(self) -> float:
        """Wait for a slot of the inner budget and count it."""
        stamp = await self.inner.acquire()
        self.requests += 1
        return stamp

    async def on_sent(self, sent_at: float, delay: float) -> None:
        """Pass a late send on."""
        await self.inner.on_sent(sent_at, delay)

    async def on_answered(self, sent_at: float, delay: float, rate_limited: bool) -> None:
        """Pass a late answer on."""
        await self.inner.on_answered(sent_at, delay, rate_limited)

    async def on_success(self, sent_at: float) -> None:
        """Pass the answer on."""
        await self.inner.on_success(sent_at)

    async def on_rate_limited(self, sent_at: float, retry_after: float | None) -> float:
        """Pass the 429 on; return the inner budget's pause."""
        return await self.inner.on_rate_limited(sent_at, retry_after)

    def pause_left(self) -> float:
        """Return the inner budget's pause still to run."""
        return self.inner.pause_left()
