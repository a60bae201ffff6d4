"""What ``helpcrunch-async sync`` says: its progress line while it runs, its summary after.

`SyncDisplay` draws `progress_line` on the command line's display while
`dlt.command.run_sync` runs; `summary_lines` says per table the rows new,
changed, re-read and deleted, the requests spent, and what a full pass would
cost; `staleness_lines` what can still be stale, and for how long.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING, TextIO

from helpcrunch_async._export.progress import ProgressDisplay
from helpcrunch_async.dlt.command import RESOURCE_NAMES

if TYPE_CHECKING:
    from collections.abc import Iterator

    from helpcrunch_async.dlt import SyncReport

__all__ = ["INTERVAL", "SyncDisplay", "progress_line", "staleness_lines", "summary_lines"]

# Seconds between the sync's log lines: less often than an export's, each is a longer report.
INTERVAL = 2.0


class SyncDisplay:
    """A `SyncProgress` on the command line's `ProgressDisplay`: a line every tick."""

    def __init__(self, display: ProgressDisplay) -> None:
        self._display = display

    def __repr__(self) -> str:
        return f"SyncDisplay({self._display!r})"

    @classmethod
    def logging_to(cls, stream: TextIO) -> SyncDisplay:
        """Return a display that writes a log line to ``stream`` every `INTERVAL` seconds."""
        return cls(ProgressDisplay(stream, live=False, interval=INTERVAL))

    def say(self, text: str) -> None:
        """Say ``text`` on a line of its own, below a cleared live line."""
        self._display.say(text)

    @contextlib.contextmanager
    def watching(self, report: SyncReport) -> Iterator[None]:
        """Draw `progress_line` of ``report`` every tick until the block ends."""
        stop = threading.Event()
        ticker = threading.Thread(target=self._tick, args=(report, stop), daemon=True)
        ticker.start()
        try:
            yield
        finally:
            stop.set()
            ticker.join()

    def _tick(self, report: SyncReport, stop: threading.Event) -> None:
        # A thread, not a task: dlt runs the pipeline (and its own event loop) in this one.
        display = self._display
        started = time.monotonic()
        while not stop.wait(display.period):
            display.show(progress_line(report, time.monotonic() - started))
        display.clear()


def progress_line(report: SyncReport, elapsed: float) -> str:
    rows = ", ".join(
        f"{name} +{t.new} ~{t.changed} ={t.reread} -{t.deleted}"
        for name, t in report.tables.items()
    )
    line = f"[{elapsed:6.1f}s] {report.spent()} requests; {rows or 'starting'}"
    if report.expected and report.expected <= report.finished:
        # The reads are over; dlt writes what they brought (no ETA to give).
        return f"{line}; reading done, writing to the destination"
    total = report.totals.get("customers")
    table = report.tables.get("customers")
    if total and table is not None and "customers" in report.full_reads:
        done = table.new + table.changed + table.reread
        line += f"; customers {done}/{total}"
        if 0 < done < total:
            left = elapsed * (total - done) / done
            line += f", ETA {left:.0f}s" if left >= 1 else ", ETA <1s"
    return line


def summary_lines(report: SyncReport) -> list[str]:
    """Return the summary: per table new/changed/re-read/deleted, requests, a full pass's cost.

    "changed" rows are known to differ (see `TableReport`); "re-read" rows were
    read again and loaded without a sign that they changed.
    """
    lines = [f"{'table':<12} {'new':>8} {'changed':>8} {'re-read':>8} {'deleted':>8}"]
    for name in RESOURCE_NAMES:
        table = report.tables.get(name)
        if table is not None:
            lines.append(
                f"{name:<12} {table.new:>8} {table.changed:>8} {table.reread:>8} {table.deleted:>8}"
            )
    lines.append(f"requests spent: {report.requests}")
    full = report.full_pass_requests.get("customers")
    if full is not None:
        lines.append(f"a full pass of the customers alone would cost {full} requests")
    chats = report.full_pass_requests.get("chats")
    if chats is not None:
        lines.append(f"a full pass of the chats and their messages: at least {chats} requests")
    # With an inbox or a refresh window: what can still be stale, and for how long.
    if report.inbox is not None or report.refresh_days:
        lines += staleness_lines(report)
    return lines


def staleness_lines(report: SyncReport) -> list[str]:
    """Return what the run applied from the inbox, and what can still be stale and for how long."""
    lines: list[str] = []
    inbox = report.inbox
    if inbox is not None:
        lines.append(
            f"inbox: {inbox.events} events applied as {inbox.customers} customers and "
            f"{inbox.chats} chats read again, {inbox.deleted} customers deleted"
            + (f" ({inbox.skipped} named nothing: left to the scans)" if inbox.skipped else "")
        )
    if report.inbox_only:
        lines.append("stale: what no event announced, until the next full sync run")
        return lines
    if report.refresh_days:
        lines.append(
            f"refresh: {report.refreshed} customers re-read; each is read whole at least once "
            f"every {report.refresh_days} runs (at one run a day: at most "
            f"{report.refresh_days} days stale)"
        )
        lines.append("stale: deleted chats and edited old messages until `sync --full`")
    else:
        lines.append(
            "stale: a customer's name, phone, notes or custom data edited without a visit"
            + (" or an event" if inbox is not None else "")
            + ", deleted chats and edited old messages, until `sync --full` (or --refresh-days N)"
        )
    return lines
