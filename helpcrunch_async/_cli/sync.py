"""``helpcrunch-async sync``: keep a dlt destination (a DuckDB file by default) current.

`add` registers the command without importing dlt; `run` checks the options
(the shared ones through `options`), runs `dlt.command.run_sync` with the
progress display, prints the summary, and maps how it ended to an exit code:
the sync's own files that cannot be used (a state it cannot read, a DuckDB file
another process holds) are the machine's failure, the API's are the export's.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from helpcrunch_async._cli import exit_codes as codes
from helpcrunch_async._cli import live as live_cli
from helpcrunch_async._cli import options
from helpcrunch_async._cli.help_format import HelpFormatter
from helpcrunch_async._cli.options import UsageError
from helpcrunch_async._cli.sync_report import INTERVAL, SyncDisplay, summary_lines
from helpcrunch_async._core.params import DEFAULT_BUDGET_KEY
from helpcrunch_async._errors import HelpCrunchError
from helpcrunch_async._sync.inbox_file import INBOX_NAME
from helpcrunch_async.dlt.command import (
    RESOURCE_NAMES,
    SyncOptions,
    SyncStateError,
    inbox_path,
    run_sync,
    telemetry_off,
)

if TYPE_CHECKING:
    import argparse

__all__ = ["add", "run"]

# `--inbox` given without a path: the inbox beside the sync's state.
_BESIDE = Path("\0beside")


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sync`` to ``commands``."""
    parser = commands.add_parser(
        "sync",
        help="keep a dlt destination (a DuckDB file by default) current",
        description=(
            "Load the account into a dlt destination; later runs load what changed. "
            f"Needs helpcrunch-async[dlt]. {options.KEY_SOURCES}"
        ),
        epilog=codes.HELP_TEXT,
        formatter_class=HelpFormatter,
    )
    defaults = SyncOptions(api_key="")
    target = parser.add_argument_group("destination")
    target.add_argument("--destination", default=defaults.destination, help="a dlt destination")
    target.add_argument(
        "--dataset-name", default=defaults.dataset_name, help="the dataset the tables go to"
    )
    target.add_argument(
        "--pipeline-name", default=defaults.pipeline_name, help="dlt's name for the pipeline"
    )
    target.add_argument(
        "--pipelines-dir",
        type=Path,
        metavar="DIR",
        help="dlt's working folder, the sync's state (default: beside the DuckDB file)",
    )
    target.add_argument(
        "--duckdb-file", type=Path, metavar="FILE", help="default: ./<pipeline-name>.duckdb"
    )
    what = parser.add_argument_group("what to read")
    what.add_argument("--full", action="store_true", help="read everything again")
    what.add_argument(
        "--only",
        metavar="LIST",
        help=(
            f"comma-separated subset of {','.join(RESOURCE_NAMES)} (chats and messages go together)"
        ),
    )
    what.add_argument(
        "--overlap",
        type=int,
        default=defaults.overlap,
        metavar="S",
        help="seconds each cursor is moved back (clock skew, visits in flight)",
    )
    what.add_argument(
        "--inbox",
        nargs="?",
        const=_BESIDE,
        type=Path,
        metavar="PATH",
        help="apply the webhook events `listen` stored there first "
        f"(default: {INBOX_NAME} in the state folder)",
    )
    what.add_argument(
        "--refresh-days",
        type=int,
        default=0,
        metavar="N",
        help="re-read 1/N of the customers each run: none more than N runs stale (0: off)",
    )
    options.add_api(parser, stops="the sync", processes=False)
    options.add_display(parser, interval=INTERVAL, quiet=True)
    live_cli.configure(parser)
    parser.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    """Run ``sync`` from parsed options; return the exit code."""
    try:
        sync = _sync_options(args)
        sync = replace(sync, inbox=_inbox(args, sync))
        live = live_cli.settings(args)
        display = None if args.quiet else options.display(args)
    except (UsageError, ValueError) as exc:
        return codes.fail(codes.USAGE, str(exc))
    # Before dlt is first imported: its runtime reads the setting once.
    telemetry_off()
    try:
        import dlt  # noqa: F401, PLC0415 -- optional: only this command needs it
    except ImportError:
        return codes.fail(codes.USAGE, "sync needs dlt: pip install 'helpcrunch-async[dlt]'")
    if live is not None:
        return live_cli.run_live(sync, live, quiet=args.quiet)
    try:
        with (
            contextlib.nullcontext()
            if display is None
            else display.capture_logs(verbose=args.verbose)
        ):
            report = run_sync(sync, progress=None if display is None else SyncDisplay(display))
    except SyncStateError as exc:
        return codes.fail(codes.LOCAL, str(exc))
    except Exception as exc:  # noqa: BLE001 -- one line and an exit code, not a traceback
        return _failed(exc, sync)
    for line in summary_lines(report):
        sys.stdout.write(line + "\n")
    return codes.OK


def _sync_options(args: argparse.Namespace) -> SyncOptions:
    if args.duckdb_file is not None and args.destination != "duckdb":
        raise UsageError("--duckdb-file goes with --destination duckdb")
    redis = options.redis_target(args)
    redis_url, redis_key = (None, DEFAULT_BUDGET_KEY) if redis is None else redis
    return SyncOptions(
        api_key=options.api_key(args),
        base_url=options.base_url(args),
        destination=args.destination,
        dataset_name=args.dataset_name,
        pipeline_name=args.pipeline_name,
        pipelines_dir=args.pipelines_dir,
        duckdb_file=args.duckdb_file,
        full=args.full,
        only=_only(args.only),
        rate_limit=args.rate_limit,
        rate_period=args.rate_period,
        concurrency=args.concurrency,
        max_rate_limit_wait=args.max_rate_limit_wait,
        redis_url=redis_url,
        redis_key=redis_key,
        overlap=args.overlap,
        refresh_days=_refresh_days(args.refresh_days),
    )


def _inbox(args: argparse.Namespace, sync: SyncOptions) -> Path | None:
    if args.inbox is None and not args.live:
        return None
    if sync.only and not {"customers", "chats"} <= set(sync.only):
        raise UsageError(
            "--inbox and --live apply events to customers and chats: --only needs both"
        )
    return inbox_path(sync) if args.inbox in {None, _BESIDE} else Path(args.inbox)


def _refresh_days(value: int) -> int:
    if value < 0:
        raise UsageError(f"--refresh-days must be 0 (off) or more, got {value}")
    return value


def _only(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in RESOURCE_NAMES]
    if unknown:
        raise UsageError(
            f"--only: unknown resource {unknown[0]!r}; choose from {', '.join(RESOURCE_NAMES)}"
        )
    # Messages are read for the chats that changed: the two cursors must move
    # together, or messages of chats synced without them could never be found.
    if "messages" in names and "chats" not in names:
        names = (*names, "chats")
    if "chats" in names and "messages" not in names:
        names = (*names, "messages")
    return names


def _failed(error: Exception, sync: SyncOptions) -> int:
    local = _local_cause(error)
    if local is not None:
        where = sync.duckdb_file or Path(f"{sync.pipeline_name}.duckdb")
        sys.stderr.write(
            f"error: the sync stopped: cannot use {where}: {local}\n"
            "(nothing was loaded; another process may hold the file: close it, then run again)\n"
        )
        return codes.LOCAL
    cause = _cause(error)
    sys.stderr.write(
        f"error: the sync stopped: {cause}\n(its cursors did not move; run it again)\n"
    )
    return codes.exit_code_for(cause)


def _local_cause(error: BaseException) -> BaseException | None:
    # A DuckDB file that cannot be opened (locked by another process, no
    # permission) is the machine's problem, not the API's: exit 1, not 4.
    import duckdb  # noqa: PLC0415 -- the dlt extra brings it

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, duckdb.IOException | OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _cause(error: BaseException) -> BaseException:
    # dlt wraps what a resource raised (PipelineStepFailed, ResourceExtractionError).
    seen = error
    while seen.__cause__ is not None and not isinstance(seen, HelpCrunchError):
        seen = seen.__cause__
    return seen if isinstance(seen, HelpCrunchError) else error
