"""``helpcrunch-async import customers``: merge a JSONL or CSV file into the account.

`add` registers the command (its input options here, the shared ones through
`options`); `run` turns them into an `ImportOptions` and hands it to
`_import.command.run_import`, which does the work and returns the exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from helpcrunch_async._cli import exit_codes as codes
from helpcrunch_async._cli import options
from helpcrunch_async._cli.help_format import HelpFormatter
from helpcrunch_async._cli.options import UsageError
from helpcrunch_async._core.import_rows import MATCHES, MODES
from helpcrunch_async._export.checkpoint import FORMATS
from helpcrunch_async._export.progress import check_interval
from helpcrunch_async._import.command import run_import
from helpcrunch_async._import.engine import WINDOW, ImportOptions

if TYPE_CHECKING:
    import argparse

__all__ = ["add", "run"]


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``import customers`` to ``commands``."""
    parser = commands.add_parser("import", help="import customers from a file")
    what = parser.add_subparsers(required=True, metavar="WHAT")
    customers = what.add_parser(
        "customers",
        help="create or update customers from a JSONL or CSV file (the export's formats)",
        description=(
            "Merge every row of FILE into the account's customers, crash-safe and resumable. "
            f"Every row is checked before the first request. {options.KEY_SOURCES}"
        ),
        epilog=codes.HELP_TEXT,
        formatter_class=HelpFormatter,
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
    options.add_api(customers, stops="the import")
    options.add_display(customers)
    customers.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    """Run ``import customers`` from parsed options; return the exit code."""
    try:
        imported = _import_options(args)
    except (UsageError, ValueError) as exc:
        return codes.fail(codes.USAGE, str(exc))
    return run_import(
        imported, progress=args.progress, interval=args.progress_interval, verbose=args.verbose
    )


def _import_options(args: argparse.Namespace) -> ImportOptions:
    check_interval(args.progress_interval)
    fmt = args.format or ("csv" if args.source.suffix.lower() == ".csv" else "jsonl")
    if args.csv_raw and fmt != "csv":
        raise UsageError("--csv-raw applies to --format csv only")
    if args.window < 1:
        raise UsageError(f"--window must be at least 1, got {args.window}")
    if not args.source.is_file():
        raise UsageError(f"--in {args.source}: no such file")
    return ImportOptions(
        source=args.source,
        format=fmt,
        match=args.match,
        mode=args.mode,
        api_key=options.api_key(args),
        base_url=options.base_url(args),
        guarded=not args.csv_raw,
        resume=args.resume,
        overwrite=args.overwrite,
        strict=args.strict,
        rate_limit=args.rate_limit,
        rate_period=args.rate_period,
        concurrency=args.concurrency,
        rate_budget=options.rate_budget(args),
        max_rate_limit_wait=args.max_rate_limit_wait,
        window=args.window,
    )
