"""The paging plan: which offset windows to fetch, and when a scan is complete.

This module is pure: it imports neither aiohttp nor asyncio and does no I/O. The
shell (`_scan`) asks `ScanPlan.next_fetch` what to fetch, reports each page
with `page_done`, and takes pages back in order with `release`.

The rules:

1. The first window (at ``start``) is fetched alone; its ``total`` plans the
   rest: one window per ``page_size`` customers up to ``total``.
2. A window is dispatched only while it lies fewer than ``lookahead`` windows
   past the head (the first window not yet released). Pages waiting for an
   earlier page plus pages in flight therefore never exceed ``lookahead``, and a
   slow consumer, which releases slowly, slows fetching instead of filling
   memory. A slow head page stalls nothing until the lookahead is used up.
3. Pages are released strictly in offset order, so customers come out in the
   server's sort order.
4. Drift. Every answer carries the current ``total``. When it grows, the plan
   grows with it. When the last planned window comes back full, one more window
   is planned, until a window comes back short; the one exception is a full last
   window that ends exactly at a ``total`` that never changed, where the data
   evidently ends. Windows already dispatched past a shrunken total come back
   short or empty, which is harmless.
5. Repair. Two neighbouring windows read under different totals may have
   lost customers between them when the earlier window saw the larger total,
   by ``d``. Either customers were deleted after the earlier window was read
   and before the later one, so the later window's first ``d`` customers slid
   back to just before it, or customers were inserted after the later window
   was read and before the earlier one, so the earlier window's last ``d``
   were pushed to just past it. The order of the answers cannot tell which:
   the server may read requests in another order than it answers them. So,
   before the later window is released, the ``2 * d`` customers around its
   start (``d`` at most a page) are fetched again and released first; the
   duplicates this brings are dropped by the scan. When the later window saw
   the larger total, the change only brings duplicates. A repair is best
   effort: further changes while it is in flight, or changes that cancel out
   in the totals, go unseen.
6. The scan is complete when every planned window has been released.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Fetch", "PageResult", "ScanPlan", "ScanStats"]

T = TypeVar("T")


@dataclass(slots=True)
class ScanStats:
    """What happened during one scan; live while it runs, final after it ends.

    ``requests`` counts every attempt on the wire (retries and 429s included),
    ``retries`` the attempts beyond the first for a page, ``rate_limited`` the 429
    answers, ``pause_seconds`` the time spent paused by 429s (overlapping pauses
    counted once, not once per worker), ``repairs`` the extra windows fetched
    because customers may have slid between two windows, ``duplicates`` the
    customers dropped because they were already yielded (offsets shifted under
    inserts), ``missing`` how many
    customers the final total says the scan did not see (offsets shifted under
    deletes, or customers that moved in the sort order). ``total_at_start`` and
    ``total_at_end`` are the first and the latest ``total`` the server reported.
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    pause_seconds: float = 0.0
    pages: int = 0
    repairs: int = 0
    customers: int = 0
    duplicates: int = 0
    total_at_start: int | None = None
    total_at_end: int | None = None
    # A resumed scan starts past customers it does not count as missing.
    start_offset: int = 0
    started_at: float = field(default_factory=time.monotonic)
    finished_at: float | None = None
    # The end of the latest pause counted in pause_seconds.
    _paused_until: float = field(default=-math.inf, repr=False)

    def add_pause(self, now: float, seconds: float) -> None:
        """Count a pause of ``seconds`` from ``now``; overlapping pauses count once."""
        end = now + seconds
        self.pause_seconds += max(0.0, end - max(now, self._paused_until))
        self._paused_until = max(self._paused_until, end)

    @property
    def total_changed(self) -> bool:
        """Whether the server's total changed while the scan ran."""
        return self.total_at_start != self.total_at_end

    @property
    def elapsed(self) -> float:
        """Seconds from the start of the scan to its end (or to now, while it runs)."""
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return end - self.started_at

    @property
    def missing(self) -> int:
        """Customers the latest total counts beyond those yielded (never negative)."""
        if self.total_at_end is None:
            return 0
        return max(0, self.total_at_end - self.start_offset - self.customers)


@dataclass(frozen=True, slots=True)
class PageResult(Generic[T]):
    """One page as a scan needs it: its ``items`` in the server's order and its ``total``.

    ``total`` is None for endpoints whose pages carry none (the old agents and
    departments variant): the scan then pages on until a page comes back short.
    """

    items: Sequence[T]
    total: int | None


@dataclass(frozen=True, slots=True)
class Fetch:
    """One request of a scan: ``limit`` customers from ``offset``.

    ``repair_for`` is the offset of the window a repair window is released
    before; None for the planned windows.
    """

    offset: int
    limit: int
    repair_for: int | None = None


@dataclass(slots=True)
class _Window(Generic[T]):
    items: Sequence[T]
    total: int


class ScanPlan(Generic[T]):
    """The offset windows of one scan, dispatched ahead and released in order."""

    __slots__ = (
        "_end",
        "_first_total",
        "_head",
        "_in_flight",
        "_latest_total",
        "_next",
        "_pages",
        "_previous",
        "_repairs",
        "_waiting_repairs",
        "lookahead",
        "page_size",
        "start",
    )

    def __init__(self, *, page_size: int, lookahead: int, start: int = 0) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        if lookahead < 1:
            raise ValueError(f"lookahead must be at least 1, got {lookahead}")
        if start < 0:
            raise ValueError(f"start offset must be >= 0, got {start}")
        self.page_size = page_size
        self.lookahead = lookahead
        self.start = start
        self._head = start
        self._next = start
        # Offsets below _end are planned; None until the first page tells the total.
        self._end: int | None = None
        self._first_total: int | None = None
        self._latest_total: int | None = None
        self._pages: dict[int, _Window[T]] = {}
        self._in_flight: set[Fetch] = set()
        # The last released planned window, which the next one is checked against.
        self._previous: _Window[T] | None = None
        # Repair windows by the window they precede: None until answered.
        self._repairs: dict[int, dict[Fetch, _Window[T] | None]] = {}
        self._waiting_repairs: list[Fetch] = []

    @property
    def head(self) -> int:
        """Offset of the first window not yet released."""
        return self._head

    @property
    def in_flight(self) -> int:
        """Windows dispatched and not yet answered."""
        return len(self._in_flight)

    @property
    def buffered(self) -> int:
        """Windows answered but waiting for an earlier one to be released."""
        return len(self._pages)

    @property
    def first_total(self) -> int | None:
        """The total reported by the first page."""
        return self._first_total

    @property
    def latest_total(self) -> int | None:
        """The total reported by the latest answer."""
        return self._latest_total

    @property
    def planned_end(self) -> int | None:
        """Offsets below this are planned; None before the first page."""
        return self._end

    @property
    def done(self) -> bool:
        """Whether every planned window has been released."""
        return self._end is not None and self._head >= self._end and not self._in_flight

    def next_fetch(self) -> Fetch | None:
        """Return the next request to send now, or None if none may start."""
        if self._waiting_repairs:
            fetch = self._waiting_repairs.pop(0)
            self._in_flight.add(fetch)
            return fetch
        if self._end is None:
            if self._next == self.start and not self._in_flight:
                return self._dispatch()
            return None
        if self._next >= self._end:
            return None
        if (self._next - self._head) // self.page_size >= self.lookahead:
            return None
        return self._dispatch()

    def page_done(self, fetch: Fetch, items: Sequence[T], total: int | None) -> None:
        """Record the answer to ``fetch`` with the server's ``total`` (None: it gave none)."""
        if fetch not in self._in_flight:
            raise ValueError(f"no window in flight at offset {fetch.offset}")
        self._in_flight.discard(fetch)
        # No total: equal totals never ask for repairs; a full page promises one
        # more window, and a short one ends the data.
        window = _Window(items, -1 if total is None else total)
        if total is None:
            total = fetch.offset + len(items) + (len(items) >= fetch.limit)
        self._latest_total = total
        size = self.page_size
        if fetch.repair_for is not None:
            self._repairs[fetch.repair_for][fetch] = window
            if self._end is not None:
                self._end = max(self._end, _round_up(total, size, self.start))
            return
        offset = fetch.offset
        self._pages[offset] = window
        if self._end is None:
            self._first_total = total
            # At least the first window itself is planned, even for an empty account.
            self._end = max(self.start + size, _round_up(total, size, self.start))
        else:
            self._end = max(self._end, _round_up(total, size, self.start))
        if offset + size >= self._end and len(items) >= size:
            # The last planned window is full: the data may go on (rule 4).
            exact = total == self._first_total and offset + size == total
            if not exact:
                self._end = offset + 2 * size

    def release(self) -> Sequence[T] | None:
        """Return the head window's items if it may go (and advance), else None.

        None also when the head window needs a repair first (rule 5): the
        repair is then among the requests `next_fetch` returns.
        """
        head = self._head
        window = self._pages.get(head)
        if window is None:
            return None
        if head in self._repairs:
            repairs = self._repairs[head]
            parts = [repairs[fetch] for fetch in sorted(repairs, key=lambda f: f.offset)]
            if None in parts:
                return None
            del self._repairs[head]
            repaired = [item for part in parts if part for item in part.items]
            repaired.extend(window.items)
            items: Sequence[T] = repaired
        else:
            fetches = self._repairs_needed(head, window)
            if fetches:
                self._repairs[head] = dict.fromkeys(fetches)
                self._waiting_repairs.extend(fetches)
                return None
            items = window.items
        del self._pages[head]
        self._head += self.page_size
        self._previous = window
        return items

    @property
    def repairs_waiting(self) -> bool:
        """Whether a repair window waits to be sent."""
        return bool(self._waiting_repairs)

    def _repairs_needed(self, head: int, window: _Window[T]) -> list[Fetch]:
        previous = self._previous
        if previous is None or previous.total <= window.total:
            return []
        shift = min(previous.total - window.total, self.page_size)
        # Deleted in between: this window's first customers slid back before
        # ``head``. Inserted in between (this window read first): the previous
        # window's last customers were pushed past ``head``. Fetch both sides.
        low, high = max(self.start, head - shift), head + shift
        return [
            Fetch(offset, min(self.page_size, high - offset), repair_for=head)
            for offset in range(low, high, self.page_size)
        ]

    def _dispatch(self) -> Fetch:
        fetch = Fetch(self._next, self.page_size)
        self._next += self.page_size
        self._in_flight.add(fetch)
        return fetch


def _round_up(total: int, size: int, start: int) -> int:
    """Return the end of the window that holds offset ``total - 1`` on the grid from ``start``."""
    if total <= start:
        return start
    return start + -(-(total - start) // size) * size
