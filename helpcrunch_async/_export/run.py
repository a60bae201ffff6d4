"""Run one export: a source's records into a crash-safe writer, with progress and clean stops.

`export_records` is the core (async, returns an `ExportResult`); `run_export`
is the command around it: a progress display and log handler on stderr, the
summary at the end, and the exit code.

The scan runs in its own task. SIGINT and SIGTERM cancel that task (see
`stopping`; a second signal does not cut the clean-up short): the scan
closes (every request in flight cancelled), the writer commits every whole
record it was given and the checkpoint is current, then the run reports
"interrupted". An API error ends the run the same way, with the error kept for
the caller to map to an exit code; the records before it stay committed, so
``--resume`` picks up from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import math
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from helpcrunch_async._cli import exit_codes as codes
from helpcrunch_async._client import HelpCrunch
from helpcrunch_async._core.params import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_PERIOD,
)
from helpcrunch_async._errors import RateLimitError
from helpcrunch_async._export.checkpoint import ExportRefusedError, ExportSettings
from helpcrunch_async._export.progress import (
    Progress,
    ProgressDisplay,
    format_duration,
    summary_text,
)
from helpcrunch_async._export.sources import SOURCES
from helpcrunch_async._export.stopping import Stopper
from helpcrunch_async._export.stream import GroupDone, Run
from helpcrunch_async._export.writer import ExportWriter
from helpcrunch_async._shell.budget import ClosingBudget

if TYPE_CHECKING:
    from pathlib import Path

    from helpcrunch_async._export.progress import Snapshot
    from helpcrunch_async._export.sources import Source
    from helpcrunch_async._export.stream import RecordStream
    from helpcrunch_async._shell.budget import RateBudget
    from helpcrunch_async._shell.stats import ScanStats

__all__ = [
    "ExportOptions",
    "ExportResult",
    "export_command",
    "export_records",
    "resume_hint",
    "run_export",
]

State = Literal["complete", "already complete", "interrupted", "failed"]


@dataclass(slots=True, kw_only=True)
class ExportOptions:
    """Everything one export needs; the key is kept out of the repr.

    A ``rate_budget`` that is a `ClosingBudget` (a shared Redis budget) is closed by
    `run_export` when the export ends.
    """

    out: Path
    settings: ExportSettings
    api_key: str = field(repr=False)
    resume: bool = False
    overwrite: bool = False
    rate_limit: int = DEFAULT_RATE_LIMIT
    rate_period: float = DEFAULT_RATE_PERIOD
    concurrency: int = DEFAULT_CONCURRENCY
    rate_budget: RateBudget | None = None
    # messages: the chats of --chats, in order (None: every chat of the account).
    chat_ids: tuple[int, ...] | None = None
    # A 429 asking for a longer pause ends the run at once (None: wait as asked).
    max_rate_limit_wait: float | None = DEFAULT_MAX_RATE_LIMIT_WAIT


@dataclass(slots=True)
class ExportResult:
    """How an export ended: its state, the file's records, this run's share and stats."""

    state: State
    records: int
    written: int
    stats: ScanStats | None
    error: BaseException | None = None
    signal_name: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Job:
    client: HelpCrunch
    writer: ExportWriter
    options: ExportOptions
    source: Source
    stream: RecordStream | None = None

    async def run(self) -> None:
        writer = self.writer
        try:
            run = Run(
                settings=self.options.settings,
                out=self.options.out,
                records=writer.records,
                position=writer.position,
                chats=writer.checkpoint.chats,
                chat_ids=self.options.chat_ids,
                note_chats=writer.note_chats,
            )
            stream = self.source.open(self.client, run)
            self.stream = stream
            async with stream:
                # Writes are synchronous: a batch's fsync blocks the loop for
                # milliseconds once a second, while the scan's requests keep
                # flying in their own tasks.
                async for item in stream:
                    if type(item) is GroupDone:
                        writer.mark(item.position)
                    else:
                        writer.write(item)
            writer.finish()
        finally:
            writer.close()

    def stats(self) -> ScanStats | None:
        return None if self.stream is None else self.stream.stats

    def snapshot(self) -> Snapshot | None:
        return None if self.stream is None else self.stream.snapshot(self.writer.records)


async def export_records(
    options: ExportOptions,
    *,
    display: ProgressDisplay | None = None,
    stopper: Stopper | None = None,
) -> ExportResult:
    """Export every record of ``options.settings.kind`` into ``options.out``; say how it ended.

    Refusals (`ExportRefusedError`) and bad parameters (`InvalidParameterError`)
    are raised before any request; errors during the scan are returned in the
    result. A signal caught by ``stopper`` stops the export cleanly, and the
    result says "interrupted".
    """
    settings = options.settings
    source = SOURCES[settings.kind]
    async with HelpCrunch(
        options.api_key,
        base_url=settings.base_url,
        rate_limit=options.rate_limit,
        rate_period=options.rate_period,
        concurrency=options.concurrency,
        rate_budget=options.rate_budget,
        max_rate_limit_wait=options.max_rate_limit_wait,
    ) as client:
        if options.resume:
            check = source.check_resume
            writer = ExportWriter.resume(
                options.out,
                settings,
                grouped=source.grouped,
                check=None if check is None else functools.partial(check, options.out),
            )
        else:
            writer = ExportWriter.create(
                options.out, settings, overwrite=options.overwrite, grouped=source.grouped
            )
        first = writer.records
        if writer.checkpoint.complete:
            writer.close()
            return ExportResult("already complete", first, 0, None)
        job = _Job(client, writer, options, source)
        task = asyncio.create_task(job.run())
        if stopper is not None:
            stopper.watch(task)
        ticking = display.running(job.snapshot) if display is not None else contextlib.nullcontext()
        try:
            async with ticking:
                await task
        except asyncio.CancelledError:
            if stopper is None or stopper.signal_name is None:
                raise
            result = ExportResult("interrupted", writer.records, 0, job.stats())
            result.signal_name = stopper.signal_name
        except Exception as exc:  # noqa: BLE001 -- every failure is reported, then mapped
            result = ExportResult("failed", writer.records, 0, job.stats(), exc)
        else:
            result = ExportResult("complete", writer.records, 0, job.stats())
    result.written = result.records - first
    if job.stream is not None:
        result.notes = job.stream.notes()
    return result


def run_export(
    options: ExportOptions,
    *,
    progress: Progress = "auto",
    interval: float = 5.0,
    verbose: bool = False,
    as_program: bool = False,
) -> int:
    """Run one export with progress on stderr, print its summary, return the exit code.

    ``progress`` ``auto`` draws a live line when stderr is a terminal and log
    lines every ``interval`` seconds otherwise. ``as_program`` (the command
    line) ignores SIGINT and SIGTERM once the summary is out, as the process
    ends next.
    """
    return asyncio.run(
        export_command(
            options,
            progress=progress,
            interval=interval,
            verbose=verbose,
            release_signals=as_program,
        )
    )


async def export_command(
    options: ExportOptions,
    *,
    progress: Progress = "auto",
    interval: float = 5.0,
    verbose: bool = False,
    handle_signals: bool = True,
    release_signals: bool = False,
) -> int:
    """`run_export` in a running event loop (the demo serves its emulator beside it).

    With ``handle_signals`` (main thread only), SIGINT and SIGTERM stop the
    export cleanly instead of killing the process, until its summary is out;
    with ``release_signals`` they are ignored from then on (see `Stopper.installed`).
    """
    stream = sys.stderr
    noun = SOURCES[options.settings.kind].noun
    display = ProgressDisplay.chosen(stream, progress, interval)
    stopper = Stopper(stream)
    installed = stopper.installed(release=release_signals)
    with installed if handle_signals else contextlib.nullcontext(stopper):
        try:
            with display.capture_logs(verbose=verbose):
                result = await export_records(
                    options, display=None if progress == "off" else display, stopper=stopper
                )
        except (ExportRefusedError, ValueError) as exc:
            return codes.fail(codes.USAGE, str(exc))
        except OSError as exc:
            return codes.fail(
                codes.LOCAL, f"cannot write {exc.filename or options.out}: {exc.strerror}"
            )
        finally:
            if isinstance(options.rate_budget, ClosingBudget):
                await options.rate_budget.aclose()
        stream.write(
            summary_text(
                state=result.state,
                records=result.records,
                written=result.written,
                stats=result.stats,
                out=str(options.out),
                noun=noun,
                notes=result.notes,
            )
            + "\n"
        )
        return _exit_code(result)


def _exit_code(result: ExportResult) -> int:
    if result.state == "interrupted":
        sys.stderr.write(
            f"stopped by {result.signal_name}; the checkpoint is current: "
            "run the same command with --resume to continue\n"
        )
        return codes.INTERRUPTED
    error = result.error
    if error is not None:
        code = codes.exit_code_for(error)
        sent = result.written > 0 or (result.stats is not None and result.stats.requests > 0)
        if code == codes.USAGE and sent:
            # Found only once requests went out: exit 2 would claim nothing was
            # sent, and --resume would meet the same refusal again.
            code = codes.FAILED
            hint = "; found after requests were sent: correct it and start over with --overwrite"
        elif code == codes.AUTH:
            hint = ""
        elif isinstance(error, RateLimitError):
            hint = f"; the checkpoint is current: {resume_hint(error.retry_after, time.time())}"
        else:
            hint = "; run the same command with --resume to continue"
        return codes.fail(code, f"{error}{hint}")
    return codes.OK


def resume_hint(retry_after: float | None, now: float) -> str:
    """Say when to run ``--resume`` after a rate limit, from its ``Retry-After`` and ``now``.

    ``now`` is unix seconds. The moment printed is the first whole second at or
    after the pause's end, so a run started at that second is never early.
    """
    if retry_after is None:
        return "the API gave no time; run the same command with --resume later"
    # Rounded up: the printed time drops its fraction, and a resume must not be early.
    at = dt.datetime.fromtimestamp(math.ceil(now + retry_after), tz=dt.UTC)
    return (
        f"the API asked to wait {format_duration(retry_after)}: run the same command "
        f"with --resume after {at:%Y-%m-%d %H:%M:%S} UTC"
    )
