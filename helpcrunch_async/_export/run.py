"""Run one export: a customer scan into a crash-safe writer, with progress and clean stops.

`export_customers` is the core (async, returns an `ExportResult`); `run_export`
is the command around it: a progress display and log handler on stderr, the
summary at the end, and the exit code.

The scan runs in its own task. SIGINT and SIGTERM cancel that task: the scan
closes (every request in flight cancelled), the writer commits every whole
record it was given and the checkpoint is current, then the run reports
"interrupted". An API error ends the run the same way, with the error kept for
the caller to map to an exit code; the records before it stay committed, so
``--resume`` picks up from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from helpcrunch_async._client import HelpCrunch
from helpcrunch_async._export import exit_codes as codes
from helpcrunch_async._export.progress import ProgressDisplay, summary_text
from helpcrunch_async._export.writer import ExportRefusedError, ExportSettings, ExportWriter

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from helpcrunch_async._core.paging import ScanStats
    from helpcrunch_async._shell.budget import RateBudget

__all__ = ["ExportOptions", "ExportResult", "export_command", "export_customers", "run_export"]

State = Literal["complete", "already complete", "interrupted", "failed"]


@dataclass(slots=True, kw_only=True)
class ExportOptions:
    """Everything one export needs; the key is kept out of the repr.

    A ``rate_budget`` with an ``aclose`` method (a shared Redis budget) is closed
    by `run_export` when the export ends.
    """

    out: Path
    settings: ExportSettings
    api_key: str = field(repr=False)
    resume: bool = False
    overwrite: bool = False
    rate_limit: int = 120
    rate_period: float = 60.0
    concurrency: int = 8
    rate_budget: RateBudget | None = None
    formula_guard: bool = True


@dataclass(slots=True)
class ExportResult:
    """How an export ended: its state, the file's records, this run's share and stats."""

    state: State
    records: int
    written: int
    stats: ScanStats | None
    error: BaseException | None = None
    signal_name: str | None = None


@dataclass(slots=True)
class _Job:
    client: HelpCrunch
    writer: ExportWriter
    settings: ExportSettings
    first: int
    stats: ScanStats | None = None

    async def run(self) -> None:
        try:
            scan = self.client.customers.iter_all(
                sort=self.settings.sort,
                order=self.settings.order,
                page_size=self.settings.page_size,
                start=self.first,
            )
            self.stats = scan.stats
            async with scan:
                write = self.writer.write
                # Writes are synchronous: a batch's fsync blocks the loop for
                # milliseconds once a second, while the scan's requests keep
                # flying in their own tasks.
                async for customer in scan:
                    write(customer)
            self.writer.finish()
        finally:
            self.writer.close()


async def export_customers(
    options: ExportOptions,
    *,
    display: ProgressDisplay | None = None,
    handle_signals: bool = True,
) -> ExportResult:
    """Export every customer into ``options.out``; return how it ended.

    Refusals (`ExportRefusedError`) and bad parameters (`InvalidParameterError`)
    are raised before any request; errors during the scan are returned in the
    result. With ``handle_signals`` (main thread only), SIGINT and SIGTERM stop
    the export cleanly instead of killing the process.
    """
    settings = options.settings
    async with HelpCrunch(
        options.api_key,
        base_url=settings.base_url,
        rate_limit=options.rate_limit,
        rate_period=options.rate_period,
        concurrency=options.concurrency,
        rate_budget=options.rate_budget,
    ) as client:
        if options.resume:
            writer = ExportWriter.resume(options.out, settings, formula_guard=options.formula_guard)
        else:
            writer = ExportWriter.create(
                options.out,
                settings,
                overwrite=options.overwrite,
                formula_guard=options.formula_guard,
            )
        first = writer.records
        if writer.checkpoint.complete:
            writer.close()
            return ExportResult("already complete", first, 0, None)
        job = _Job(client, writer, settings, first)
        task = asyncio.create_task(job.run())
        caught: list[str] = []
        with _stopping_on_signals(task, caught, enabled=handle_signals):
            ticking = (
                display.running(lambda: writer.records, lambda: job.stats)
                if display is not None
                else contextlib.nullcontext()
            )
            try:
                async with ticking:
                    await task
            except asyncio.CancelledError:
                if not caught:
                    raise
                result = ExportResult("interrupted", writer.records, 0, job.stats)
                result.signal_name = caught[0]
            except Exception as exc:  # noqa: BLE001 -- every failure is reported, then mapped
                result = ExportResult("failed", writer.records, 0, job.stats, exc)
            else:
                result = ExportResult("complete", writer.records, 0, job.stats)
        result.written = result.records - first
        return result


@contextlib.contextmanager
def _stopping_on_signals(
    task: asyncio.Task[None], caught: list[str], *, enabled: bool
) -> Iterator[None]:
    """Cancel ``task`` on SIGINT or SIGTERM while the block runs; note which signal came."""
    if not enabled:
        yield
        return
    loop = asyncio.get_running_loop()

    def stop(signum: signal.Signals) -> None:
        caught.append(signum.name)
        task.cancel()

    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop, signum)
    try:
        yield
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


def run_export(
    options: ExportOptions,
    *,
    progress: Literal["auto", "live", "log", "off"] = "auto",
    interval: float = 5.0,
    verbose: bool = False,
) -> int:
    """Run one export with progress on stderr, print its summary, return the exit code.

    ``progress`` ``auto`` draws a live line when stderr is a terminal and log
    lines every ``interval`` seconds otherwise.
    """
    return asyncio.run(
        export_command(options, progress=progress, interval=interval, verbose=verbose)
    )


async def export_command(
    options: ExportOptions,
    *,
    progress: Literal["auto", "live", "log", "off"] = "auto",
    interval: float = 5.0,
    verbose: bool = False,
) -> int:
    """`run_export` in a running event loop (the demo serves its emulator beside it)."""
    stream = sys.stderr
    live = progress == "live" or (progress == "auto" and stream.isatty())
    display = ProgressDisplay(stream, live=live, interval=interval)
    handler = display.log_handler()
    logger = logging.getLogger("helpcrunch_async")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        result = await export_customers(options, display=None if progress == "off" else display)
    except (ExportRefusedError, ValueError) as exc:
        return _fail(codes.USAGE, str(exc))
    except OSError as exc:
        return _fail(codes.LOCAL, f"cannot write {exc.filename or options.out}: {exc.strerror}")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        aclose = getattr(options.rate_budget, "aclose", None)
        if aclose is not None:
            await aclose()
    stream.write(
        summary_text(
            state=result.state,
            records=result.records,
            written=result.written,
            stats=result.stats,
            out=str(options.out),
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
    if result.error is not None:
        code = codes.exit_code_for(result.error)
        hint = "" if code == codes.AUTH else "; run the same command with --resume to continue"
        return _fail(code, f"{result.error}{hint}")
    return codes.OK


def _fail(code: int, message: str) -> int:
    sys.stderr.write(f"error: {message}\n")
    return code
