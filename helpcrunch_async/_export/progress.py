"""How a running export shows where it is: a live line, periodic log lines, a summary.

On a terminal, one line is redrawn a few times a second (records done of
total, pages, rate, ETA, retries and 429 pauses). When stderr is not a
terminal (cron, systemd, CI), the same facts go out as a plain line every few
seconds, since a log full of carriage returns helps nobody. The summary at the
end says what the run did and whether the data moved under it.

The text is computed by pure functions (`progress_text`, `summary_text`) from
a `ScanStats`; `ProgressDisplay` only decides when and how to write. It is the
one renderer of every command: the export draws snapshots, the sync and the
import hand it lines of their own (`show`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import shutil
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, TextIO

from helpcrunch_async._errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Sequence

    from helpcrunch_async._shell.stats import ScanStats

__all__ = [
    "MIN_INTERVAL",
    "Progress",
    "ProgressDisplay",
    "RateMeter",
    "Snapshot",
    "check_interval",
    "format_duration",
    "progress_text",
    "summary_text",
]

# What --progress takes: a live line, log lines, none, or live on a terminal only.
Progress = Literal["auto", "live", "log", "off"]
# Progress lines more often than this are a busy loop that buries the log, not progress.
MIN_INTERVAL: Final = 0.1

_CLEAR_LINE = "\r\x1b[2K"
# A live line is redrawn this often (seconds): a moving clock, not a busy loop.
_LIVE_PERIOD = 0.25
# The rate is measured over this many recent seconds: a burst at the start or a
# 429 pause long ago should not skew the ETA for the rest of a long export.
_RATE_WINDOW = 20.0
# Short durations get a tenth of a second: "1s" for a 1.4 s run says little.
_PRECISE_BELOW = 10.0
# A rate from less than this many seconds of samples is noise.
_MIN_SPAN = 0.5


def check_interval(seconds: float) -> float:
    """Return ``seconds`` if it is a usable progress interval, else raise InvalidParameterError."""
    if not (math.isfinite(seconds) and seconds >= MIN_INTERVAL):
        raise InvalidParameterError(
            f"--progress-interval must be at least {MIN_INTERVAL} seconds, got {seconds}"
        )
    return seconds


class RateMeter:
    """Customers per second over the last few seconds."""

    def __init__(self, window: float = _RATE_WINDOW) -> None:
        self._window = window
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, done: int) -> float | None:
        """Record ``done`` at ``now``; return the recent rate, None before there is one."""
        samples = self._samples
        samples.append((now, done))
        while len(samples) > 1 and now - samples[1][0] >= self._window:
            samples.popleft()
        first_time, first_done = samples[0]
        if now - first_time < _MIN_SPAN:
            return None
        return (done - first_done) / (now - first_time)


def format_duration(seconds: float) -> str:
    """Return ``seconds`` as ``4.2s``, ``42s``, ``3m05s`` or ``1h02m``."""
    if seconds < _PRECISE_BELOW:
        return f"{max(0.0, seconds):.1f}s"
    minutes, secs = divmod(max(0, round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where a run is: ``done`` of ``total`` ``noun`` (None: not known yet), and its costs.

    ``detail`` is one more fact for the line (a messages export counts chats
    and says how many messages it has written).
    """

    done: int
    stats: ScanStats
    total: int | None = None
    noun: str = "customers"
    detail: str | None = None


def progress_text(snapshot: Snapshot, rate: float | None) -> str:
    """Return one line: done of total, pages, rate, ETA, retries, 429 pauses."""
    done, total, noun, stats = snapshot.done, snapshot.total, snapshot.noun, snapshot.stats
    if total:
        shown = min(done, total)
        head = f"{shown:,} / {total:,} {noun} ({100 * shown / total:.1f}%)"
    else:
        head = f"{done:,} {noun}"
    parts = [head]
    if snapshot.detail:
        parts.append(snapshot.detail)
    parts.append(f"{stats.pages:,} pages")
    if rate is not None:
        parts.append(f"{rate:,.0f}/s")
        if total and rate > 0:
            parts.append(f"ETA {format_duration(max(0, total - done) / rate)}")
    parts.append(f"{stats.retries} retries")
    pauses = f"{stats.rate_limited} 429s"
    if stats.pause_seconds:
        pauses += f" (paused {stats.pause_seconds:.1f}s)"
    parts.append(pauses)
    return " | ".join(parts)


def summary_text(
    *,
    state: str,
    records: int,
    written: int,
    stats: ScanStats | None,
    out: str,
    noun: str = "customers",
    notes: Sequence[str] = (),
) -> str:
    """Return the closing lines: what was written, what it cost, whether the data moved.

    ``records`` is every record in the file, ``written`` those this run added;
    ``notes`` are more lines the kind of export has to say.
    """
    lines = [f"{state}: {records:,} {noun} in {out} ({written:,} written by this run)"]
    if stats is None:
        return lines[0]
    lines.append(
        f"  {stats.requests:,} requests, {stats.pages:,} pages in "
        f"{format_duration(stats.elapsed)}; {stats.retries} retries, "
        f"{stats.rate_limited} 429s (paused {stats.pause_seconds:.1f}s)"
    )
    start, end = _count(stats.total_at_start), _count(stats.total_at_end)
    if stats.total_changed:
        moved = f"; total CHANGED during the run: {start} -> {end}"
    elif stats.total_at_end is not None:
        moved = f"; total unchanged ({end})"
    else:
        # A fan-out over many listings has no one total.
        moved = ""
    lines.append(f"  {stats.duplicates} duplicates dropped{moved}")
    lines.extend(f"  {note}" for note in notes)
    return "\n".join(lines)


def _count(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}"


class ProgressDisplay:
    """Writes progress to ``stream``: a live line if ``live``, else a line every ``interval``.

    `running` is an async context manager that draws while an export runs, so a
    long 429 pause still shows a moving clock. `log_handler` returns a logging
    handler that clears the live line before a log record, so the two never mix;
    `capture_logs` installs one for the package's logger while a command runs.
    """

    def __init__(self, stream: TextIO, *, live: bool, interval: float) -> None:
        self.stream = stream
        self.live = live
        self.interval = check_interval(interval)
        self._meter = RateMeter()
        self._metered = ""
        self._drawn = False

    @classmethod
    def chosen(cls, stream: TextIO, progress: Progress, interval: float) -> ProgressDisplay:
        """Return the display ``--progress`` asks for: ``auto`` is live on a terminal only."""
        live = progress == "live" or (progress == "auto" and stream.isatty())
        return cls(stream, live=live, interval=interval)

    def draw(self, snapshot: Snapshot) -> None:
        """Write the current line now."""
        if snapshot.noun != self._metered:
            # Another phase (listing chats, then reading messages): another rate.
            self._meter = RateMeter()
            self._metered = snapshot.noun
        self.show(progress_text(snapshot, self._meter.add(time.monotonic(), snapshot.done)))

    @property
    def period(self) -> float:
        """Seconds between two lines: a few a second when live, else ``interval``."""
        return _LIVE_PERIOD if self.live else self.interval

    def show(self, text: str) -> None:
        """Write ``text`` as the current progress line now."""
        if self.live:
            # A line wider than the terminal wraps, and \r then redraws only its tail.
            width = shutil.get_terminal_size().columns - 1
            self.stream.write(_CLEAR_LINE + text[:width])
            self._drawn = True
        else:
            self.stream.write(f"progress: {text}\n")
        self.stream.flush()

    def say(self, text: str) -> None:
        """Write ``text`` as a line of its own, below a cleared live line."""
        self.clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Remove the live line, if one is drawn."""
        if self._drawn:
            self.stream.write(_CLEAR_LINE)
            self.stream.flush()
            self._drawn = False

    @contextlib.asynccontextmanager
    async def running(self, snapshot: Callable[[], Snapshot | None]) -> AsyncIterator[None]:
        """Draw ``snapshot()`` every tick until the block ends (nothing while it is None)."""
        task = asyncio.create_task(self._tick(snapshot))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.clear()

    async def _tick(self, snapshot: Callable[[], Snapshot | None]) -> None:
        # Live lines redraw often; plain lines wait a full interval before the first.
        while True:
            await asyncio.sleep(self.period)
            current = snapshot()
            if current is not None:
                self.draw(current)

    def log_handler(self) -> logging.Handler:
        """Return a handler that writes records to the stream below a cleared live line."""
        return _LineHandler(self)

    @contextlib.contextmanager
    def capture_logs(self, *, verbose: bool) -> Iterator[None]:
        """Send the package's log records here while the block runs: INFO if ``verbose``."""
        handler = self.log_handler()
        logger = logging.getLogger("helpcrunch_async")
        level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.INFO if verbose else logging.WARNING)
        try:
            yield
        finally:
            logger.removeHandler(handler)
            logger.setLevel(level)


class _LineHandler(logging.StreamHandler[TextIO]):
    def __init__(self, display: ProgressDisplay) -> None:
        super().__init__(display.stream)
        self._display = display
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self._display.clear()
        super().emit(record)
