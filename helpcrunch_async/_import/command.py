"""One import run, as ``helpcrunch-async import customers`` (``_cli.imports``) makes it.

`run_import` runs `import_file` with the export's progress renderer and clean
stops on SIGINT or SIGTERM, prints the summary and returns the exit code: the
command line's table, where `REJECTED` says "done, but some rows were
rejected".
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import TYPE_CHECKING

from helpcrunch_async._cli import exit_codes as codes
from helpcrunch_async._cli.exit_codes import REJECTED
from helpcrunch_async._export.checkpoint import ExportRefusedError
from helpcrunch_async._export.progress import ProgressDisplay, Snapshot, format_duration
from helpcrunch_async._export.run import resume_hint
from helpcrunch_async._export.stopping import Stopper
from helpcrunch_async._import.engine import ImportOptions, ImportResult, Progress, import_file
from helpcrunch_async._shell.stats import ScanStats

if TYPE_CHECKING:
    from pathlib import Path

    from helpcrunch_async._core.import_journal import Counts
    from helpcrunch_async._export.progress import Progress as ProgressChoice

__all__ = ["REJECTED", "run_import", "summary_lines"]


def run_import(
    options: ImportOptions, *, progress: ProgressChoice, interval: float, verbose: bool
) -> int:
    """Run one import with progress on stderr, print its summary, return the exit code."""
    return asyncio.run(_command(options, progress=progress, interval=interval, verbose=verbose))


async def _command(
    options: ImportOptions,
    *,
    progress: ProgressChoice,
    interval: float,
    verbose: bool,
) -> int:
    stream = sys.stderr
    display = ProgressDisplay.chosen(stream, progress, interval)
    stats = ScanStats()
    latest: list[Snapshot] = []

    def note(state: Progress) -> None:
        counts = state.counts
        stats.requests, stats.pages = state.requests, state.searches
        done = counts.created + counts.updated + counts.unchanged + counts.rejected
        latest[:] = [
            Snapshot(
                done=done,
                stats=stats,
                total=state.rows,
                noun="rows",
                detail=_counts_text(counts),
            )
        ]

    stopper = Stopper(stream)
    ticking = (
        display.running(lambda: latest[0] if latest else None)
        if progress != "off"
        else contextlib.nullcontext()
    )
    try:
        with stopper.installed(release=True), display.capture_logs(verbose=verbose):
            async with ticking:
                result = await import_file(options, progress=note, stopper=stopper)
    except (ExportRefusedError, ValueError) as exc:
        return codes.fail(codes.USAGE, str(exc))
    except OSError as exc:
        return codes.fail(
            codes.LOCAL, f"cannot write {exc.filename or options.source}: {exc.strerror}"
        )
    finally:
        aclose = getattr(options.rate_budget, "aclose", None)
        if aclose is not None:
            await aclose()
    stream.write("\n".join(summary_lines(result, options.source)) + "\n")
    return _exit_code(result)


def _counts_text(counts: Counts) -> str:
    return (
        f"{counts.created:,} created, {counts.updated:,} updated, "
        f"{counts.unchanged:,} unchanged, {counts.rejected:,} rejected"
    )


def summary_lines(result: ImportResult, source: Path) -> list[str]:
    """Return the closing lines: what became of the rows, what it cost, where the rejects are."""
    counts = result.counts
    lines = [f"{result.state}: {result.rows:,} rows in {source}: {_counts_text(counts)}"]
    lines.append(
        f"  {result.requests:,} requests by this run, in {format_duration(result.elapsed)}"
    )
    if counts.rejected and result.rejects is not None:
        lines.append(f"  rejected rows, with their line numbers and reasons: {result.rejects}")
    return lines


def _exit_code(result: ImportResult) -> int:
    if result.state == "refused":
        return codes.fail(
            codes.USAGE,
            f"--strict: {result.counts.rejected} rows are bad"
            f"{'' if result.rejects is None else f' (see {result.rejects})'}; nothing was sent",
        )
    if result.state == "interrupted":
        sys.stderr.write(
            f"stopped by {result.signal_name}; the checkpoint is current: "
            "run the same command with --resume to continue\n"
        )
        return codes.INTERRUPTED
    error = result.error
    if error is not None:
        code = codes.exit_code_for(error)
        retry_after = getattr(error, "retry_after", None)
        if code == codes.RATE_LIMITED:
            hint = f"; the checkpoint is current: {resume_hint(retry_after, time.time())}"
        elif code == codes.AUTH:
            hint = ""
        else:
            hint = "; run the same command with --resume to continue"
        return codes.fail(code, f"{error}{hint}")
    return REJECTED if result.counts.rejected else codes.OK
