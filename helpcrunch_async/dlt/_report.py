"""What one sync run did: per table, the inbox's part, the refresh slice, the requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from helpcrunch_async._sync.inbox import InboxBatch

__all__ = ["InboxReport", "SyncReport", "TableReport"]


@dataclass
class InboxReport:
    """The webhook events a run applied: how many, the reads they cost, the oldest one's age."""

    events: int = 0
    customers: int = 0
    chats: int = 0
    deleted: int = 0
    # Events that named nothing to read (unknown types): left to the scans.
    skipped: int = 0
    # When the oldest event was stored (unix seconds): the lag of this batch.
    oldest: float | None = None

    @classmethod
    def of(cls, batch: InboxBatch) -> InboxReport:
        """Return the report of ``batch`` before its reads."""
        return cls(events=len(batch.event_ids), skipped=batch.skipped, oldest=batch.oldest)


@dataclass
class TableReport:
    """What one run did to one table: rows new, changed, re-read and deleted.

    ``changed`` counts rows held before whose content moved: for customers a
    ``lastSeen`` after the last run's cursor, for chats a timestamp after it,
    for agents and departments fields that differ from the last run's. A row
    held before that a run reads again without such a sign (the overlap of
    the cursors, a full pass) is ``reread``: loaded again, not known changed.
    """

    new: int = 0
    changed: int = 0
    reread: int = 0
    deleted: int = 0


@dataclass
class SyncReport:
    """What one run did: per table, the requests it spent, and what a full pass would cost."""

    tables: dict[str, TableReport] = field(default_factory=dict)
    requests: int = 0
    # Requests a full read of the customers would need now (from the ids held).
    full_pass_requests: dict[str, int] = field(default_factory=dict)
    # Records the server has, per table, where known (a full read's total; the ids held).
    totals: dict[str, int] = field(default_factory=dict)
    # Tables read whole in this run (first run, or full=True).
    full_reads: set[str] = field(default_factory=set)
    # The webhook events applied (None: no inbox).
    inbox: InboxReport | None = None
    # The rolling refresh: its window in runs (0: off) and the customers it re-read.
    refresh_days: int = 0
    refreshed: int = 0
    # Only the inbox was applied (a ``--live`` batch): no scans, no deletion count.
    inbox_only: bool = False
    # Requests spent so far, read live (the run's one client counts them).
    live_requests: Callable[[], int] | None = None
    # The tables the run reads, and those whose reads are over.
    expected: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)

    def spent(self) -> int:
        """Return the requests spent so far (live while the run reads)."""
        return self.live_requests() if self.live_requests is not None else self.requests

    def table(self, name: str) -> TableReport:
        """Return the report of ``name``, created on first use."""
        return self.tables.setdefault(name, TableReport())
