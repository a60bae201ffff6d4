"""`ScanStats`: what happened during one scan, counted as it runs (it reads the clock).

Shell code: the scan counts pages, items and totals into it, and the caller
counts every attempt's cost through `add_cost` (it is a `CostSink`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from helpcrunch_async._shell.caller import AttemptCost

__all__ = ["ScanStats"]


@dataclass(slots=True)
class ScanStats:
    """What happened during one scan; live while it runs, final after it ends.

    ``requests`` counts every attempt on the wire (retries and 429s included),
    ``retries`` the attempts beyond the first for a page, ``rate_limited`` the 429
    answers, ``pause_seconds`` the time spent paused by 429s (overlapping pauses
    counted once, not once per worker), ``pages`` the pages answered (each at
    least one of the ``requests``, so never more), ``repairs`` the extra windows fetched
    because items may have slid between two windows, ``items`` the items yielded
    (customers, chats, messages: whatever the scan reads), ``duplicates`` the
    items dropped because they were already yielded (offsets shifted under
    inserts), ``missing`` how many
    items the final total says the scan did not see (offsets shifted under
    deletes, or items that moved in the sort order). ``total_at_start`` and
    ``total_at_end`` are the first and the latest ``total`` the server reported.
    ``customers`` is the old name of ``items``, kept as an alias.
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    pause_seconds: float = 0.0
    pages: int = 0
    repairs: int = 0
    items: int = 0
    duplicates: int = 0
    total_at_start: int | None = None
    total_at_end: int | None = None
    # A resumed scan starts past items it does not count as missing.
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
    def customers(self) -> int:
        """Deprecated alias of ``items`` (named when scans read only customers)."""
        return self.items

    @customers.setter
    def customers(self, value: int) -> None:
        self.items = value

    @property
    def missing(self) -> int:
        """Items the latest total counts beyond those yielded (never negative)."""
        if self.total_at_end is None:
            return 0
        return max(0, self.total_at_end - self.start_offset - self.items)

    def add_costs_of(self, other: ScanStats) -> None:
        """Count the requests, retries, 429s, pauses and pages of a scan run inside this one."""
        self.requests += other.requests
        self.retries += other.retries
        self.rate_limited += other.rate_limited
        self.pause_seconds += other.pause_seconds
        self.pages += other.pages

    def add_cost(self, cost: AttemptCost) -> None:
        """Count what one attempt of a page cost (see `CostSink`)."""
        self.requests += cost.requests
        self.retries += cost.retries
        self.rate_limited += cost.rate_limited
        if cost.rate_limited:
            self.add_pause(cost.at, cost.pause)
