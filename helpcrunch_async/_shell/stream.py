"""`StreamScan`: a scan over reads that run one after another (``iter_changed``).

Shell code. Where `_shell.scan.Scan` runs a plan's windows concurrently on the
engine, some reads must go a page at a time (a keyset read: the next page
starts where the last ended). `StreamScan` gives such a read the same face as
every other scan: an async iterator and async context manager with ``stats``
and ``aclose``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Generic, Self, TypeVar

from helpcrunch_async._shell.stats import ScanStats

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable
    from types import TracebackType

__all__ = ["StreamScan"]

T = TypeVar("T")


class StreamScan(Generic[T]):
    """Items of reads made one after another, with their ``stats``.

    ``read(stats)`` is an async generator that counts each request's cost into
    ``stats`` (pass it on as the ``stats`` of a request) and each page into
    ``stats.pages``; the scan counts ``stats.items``, the items yielded. Use it
    as an async iterator, and close it when you stop early: ``async with``,
    ``contextlib.aclosing`` or `aclose` end the read (one request at most is in
    flight, and it is cancelled).
    """

    def __init__(self, read: Callable[[ScanStats], AsyncGenerator[T, None]]) -> None:
        self.stats = ScanStats()
        self._items = read(self.stats)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        try:
            item = await anext(self._items)
        except BaseException:
            self._finish()
            raise
        self.stats.items += 1
        return item

    async def aclose(self) -> None:
        """End the read; the request in flight, if any, is cancelled."""
        self._finish()
        await self._items.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _finish(self) -> None:
        if self.stats.finished_at is None:
            self.stats.finished_at = time.monotonic()
