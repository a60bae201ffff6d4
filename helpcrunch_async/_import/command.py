"""``helpcrunch-async import customers``: the export's reverse, resumable after a crash.

`configure` adds the command to the command line's subparsers, with the
export's connection and display options (handed in by ``_cli``, which owns
them); `run` turns the options into an `ImportOptions`, shows progress with the
export's renderer, prints the summary and returns the exit code: the export's
codes, plus `REJECTED` for "done, but some rows were rejected".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from helpcrunch_async._core.import_rows import MATCHES, MODES
from helpcrunch_async._core.params import check_base_url
from helpcrunch_async._errors import InvalidParameterError
from helpcrunch_async._export import exit_codes as codes
from helpcrunch_async._export.checkpoint import FORMATS, ExportRefusedError
from helpcrunch_async._export.progress import (
    ProgressDisplay,
    Snapshot,
    check_interval,
    format_duration,
)
from helpcrunch_async._export.run import resume_hint
from helpcrunch_async._export.stopping import Stopper
from helpcrunch_async._import.engine import (
    WINDOW,
    ImportOptions,
    ImportResult,
    Progress,
    import_file,
)
from helpcrunch_async._shell.stats import ScanStats

if TYPE_CHECKING:
    from collections.abc import Callable

    from helpcrunch_async._core.import_journal import Counts
    from helpcrunch_async._shell.budget import RateBudget

__all__ = ["HELP_TEXT", "REJECTED", "configure", "run_import", "summary_lines"]

REJECTED = 6
"""Exit code: the import is complete, but some rows were rejected (see FILE.rejects.jsonl)."""
HELP_TEXT = (
    codes.HELP_TEXT.replace("the export is complete", "the import is complete, no row rejected")
    .replace("an export refused", "an import refused")
    .replace(
        "  130 ",
        f"  {REJECTED}    done, but some rows were rejected: see FILE.rejects.jsonl\n  130 ",
    )
)


def configure(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    *,
    connection: Callable[[argparse.ArgumentParser], None],
    api_key: Callable[[argparse.Namespace], str],
    rate_budget: Callable[[argparse.Namespace], RateBudget | None],
) -> None:
    """Add ``import customers`` to ``commands``; ``connection`` adds the export's API options."""
    parser = commands.add_parser("import", help="import customers from a file")
    what = parser.add_subparsers(required=True, metavar="WHAT")
    customers = what.add_parser(
        "customers",
        help="create or update customers from a JSONL or CSV file (the export's formats)",
        description=(
            "Merge every row of FILE into the account's customers, crash-safe and resumable. "
            "Every row is checked before the first request. "
            "The API key comes from HELPCRUNCH_API_KEY or --api-key-file."
        ),
        epilog=HELP_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rows = customers.add_argument_group("input")
    rows.add_argument(
        "--in", dest="source", type=Path, required=True, metavar="FILE", help="JSONL or CSV rows"
    )
    rows.add_argument("--format", choices=FORMATS, default=None, help="default: from FILE")
    rows.add_argument(
        "--match",
        choices=MATCHES,
        default="user_id",
        help="the key a row is found by (%(default)s)",
    )
    rows.add_argument(
        "--mode",
        choices=MODES,
        default="upsert",
        help="upsert: update or create; create: new customers only; update: existing only",
    )
    start = rows.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue from FILE's checkpoint")
    start.add_argument("--overwrite", action="store_true", help="start over, forgetting it")
    rows.add_argument(
        "--window",
        type=int,
        default=WINDOW,
        metavar="N",
        help="rows looked up and written together; a crash redoes at most N (%(default)s)",
    )
    rows.add_argument("--strict", action="store_true", help="refuse the whole file if a row is bad")
    rows.add_argument(
        "--csv-raw", action="store_true", help="the CSV was exported with --csv-raw (no guard)"
    )
    connection(customers)
    customers.set_defaults(command=lambda args: run_import(args, api_key, rate_budget))


def _options(
    args: argparse.Namespace,
    api_key: Callable[[argparse.Namespace], str],
    rate_budget: Callable[[argparse.Namespace], RateBudget | None],
) -> ImportOptions:
    check_interval(args.progress_interval)
    if (args.redis_url is None) != (args.redis_key is None):
        raise InvalidParameterError("--redis-url and --redis-key go together")
    fmt = args.format or ("csv" if args.source.suffix.lower() == ".csv" else "jsonl")
    if args.csv_raw and fmt != "csv":
        raise InvalidParameterError("--csv-raw applies to --format csv only")
    if args.window < 1:
        raise InvalidParameterError(f"--window must be at least 1, got {args.window}")
    if not args.source.is_file():
        raise InvalidParameterError(f"--in {args.source}: no such file")
    return ImportOptions(
        source=args.source,
        format=fmt,
        match=args.match,
        mode=args.mode,
        api_key=api_key(args),
        base_url=str(check_base_url(args.base_url)),
        guarded=not args.csv_raw,
        resume=args.resume,
        overwrite=args.overwrite,
        strict=args.strict,
        rate_limit=args.rate_limit,
        rate_period=args.rate_period,
        concurrency=args.concurrency,
        rate_budget=rate_budget(args),
        max_rate_limit_wait=args.max_rate_limit_wait,
        window=args.window,
    )


def run_import(
    args: argparse.Namespace,
    api_key: Callable[[argparse.Namespace], str],
    rate_budget: Callable[[argparse.Namespace], RateBudget | None],
) -> int:
    """Run ``import customers`` from parsed options; return the exit code."""
    try:
        options = _options(args, api_key, rate_budget)
    except Exception as exc:  # noqa: BLE001 -- _cli's UsageError, ValueError: one line, code 2
        return codes.fail(codes.USAGE, str(exc))
    return asyncio.run(
        _command(
            options, progress=args.progress, interval=args.progress_interval, verbose=args.verbose
        )
    )


async def _command(
    options: ImportOptions,
    *,
    progress: Literal["auto", "live", "log", "off"],
    interval: float,
    verbose: bool,
) -> int:
    stream = sys.stderr
    live = progress == "live" or (progress == "auto" and stream.isatty())
    display = ProgressDisplay(stream, live=live, interval=interval)
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
    handler = display.log_handler()
    logger = logging.getLogger("helpcrunch_async")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    ticking = (
        display.running(lambda: latest[0] if latest else None)
        if progress != "off"
        else contextlib.nullcontext()
    )
    try:
        with stopper.installed(release=True):
            async with ticking:
                result = await import_file(options, progress=note, stopper=stopper)
    except (ExportRefusedError, ValueError) as exc:
        return codes.fail(codes.USAGE, str(exc))
    except OSError as exc:
        return codes.fail(
            codes.LOCAL, f"cannot write {exc.filename or options.source}: {exc.strerror}"
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
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
