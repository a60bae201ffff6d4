"""The sync's one client for every resource of a run, and a count of the requests it spent.

dlt runs the async generators of a source on one event loop of its own, in a
background thread, and closes them with ``loop.shutdown_asyncgens()`` before it
stops the loop. `SharedClient` opens one `HelpCrunch` on that loop the first
time a resource asks for it, held by an async generator of its own, so that
dlt's shutdown closes the client (and its session) on the loop that made it.
Every resource therefore draws on one cap, and one Redis budget when given.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from helpcrunch_async._client import HelpCrunch
from helpcrunch_async._core.params import DEFAULT_FALLBACK_WORKERS
from helpcrunch_async._shell.budget import ClosingBudget, LocalBudget, RateBudget
from helpcrunch_async._shell.counting import CountingBudget

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable

__all__ = ["SharedClient", "local_budget", "redis_budget"]


class SharedClient:
    """The one `HelpCrunch` of a run, opened lazily on the loop that dlt runs resources on."""

    def __init__(
        self,
        make_budget: Callable[[], RateBudget],
        client_options: dict[str, Any],
    ) -> None:
        self._make_budget = make_budget
        self._options = client_options
        self._keeper: AsyncGenerator[HelpCrunch, None] | None = None
        self._client: HelpCrunch | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self.budget: CountingBudget | None = None
        self._spent = 0

    def __repr__(self) -> str:
        return f"<SharedClient open={self._client is not None} budget={self.budget!r}>"

    @property
    def requests(self) -> int:
        """Requests spent so far by every client this object opened."""
        return self._spent + (self.budget.requests if self.budget is not None else 0)

    async def get(self) -> HelpCrunch:
        """Return the client of the running loop, opening it on first use."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A new dlt run (new loop): the previous loop closed its client.
            if self.budget is not None:
                self._spent += self.budget.requests
            self._loop, self._lock, self._client, self._keeper = loop, asyncio.Lock(), None, None
            self.budget = None
        assert self._lock is not None  # noqa: S101 -- set just above
        async with self._lock:
            if self._client is None:
                self.budget = CountingBudget(self._make_budget())
                client = HelpCrunch(rate_budget=self.budget, **self._options)
                self._keeper = _keep(client, self.budget)
                self._client = await anext(self._keeper)
            return self._client


async def _keep(client: HelpCrunch, budget: CountingBudget) -> AsyncGenerator[HelpCrunch, None]:
    # Suspended at the yield for the whole run; shutdown_asyncgens() closes it.
    try:
        yield client
    finally:
        await client.close()
        if isinstance(budget.inner, ClosingBudget):
            await budget.inner.aclose()


def local_budget(limit: int, period: float) -> Callable[[], RateBudget]:
    """Return a factory that gives one in-process budget of ``limit`` per ``period``, every time.

    The same budget serves every run of the process (it rebinds its lock to
    each loop), so two syncs in a row cannot overrun the cap between them.
    """
    budget = LocalBudget(limit, period)
    return lambda: budget


def redis_budget(url: str, key: str, limit: int, period: float) -> Callable[[], RateBudget]:
    """Return a factory of `RedisBudget` ``key`` at ``url``: one cap shared by processes."""
    from helpcrunch_async._redis.budget import RedisBudget  # noqa: PLC0415 -- optional: needs redis

    # RedisBudget's default number of processes sharing the key, but no
    # more than the limit: each keeps at least one request a period when
    # Redis is away, and a cap below that default is not refused.
    workers = min(DEFAULT_FALLBACK_WORKERS, limit)

    def make_budget() -> RateBudget:
        return RedisBudget(url, key, limit=limit, period=period, fallback_workers=workers)

    return make_budget
