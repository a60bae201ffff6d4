"""``helpcrunch-async sync``: keep a dlt destination (a DuckDB file by default) current.

`configure` adds the options to an argparse parser without importing dlt;
`run` does the sync: it first loads a package that an interrupted run left
pending (dlt then stops; the cursors in that package are the ones that count),
then runs the source, printing progress and a summary: per table the rows new,
changed, re-read and deleted, the requests spent, and what a full pass would
cost.

The command turns dlt's anonymous telemetry off (its own runs only: a
pipeline of the user's keeps the user's setting), and keeps dlt's working
folder (the sync's state) beside the DuckDB file unless told otherwise.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from helpcrunch_async._export import exit_codes as codes
from helpcrunch_async.dlt import live as live_cli
from helpcrunch_async.webhooks._listen import INBOX_NAME

if TYPE_CHECKING:
    import argparse

    from helpcrunch_async.dlt._source import SyncReport

__all__ = [
    "SyncOptions",
    "SyncStateError",
    "configure",
    "run",
    "run_sync",
    "state_folder",
    "summary_lines",
]

_RESOURCES = ("customers", "chats", "messages", "agents", "departments")
_BESIDE = Path("\0beside")


@dataclass(frozen=True)
class SyncOptions:
    """Everything one sync needs; the key is held here only, never printed."""

    api_key: str
    base_url: str = "https://api.helpcrunch.com/v1"
    destination: str = "duckdb"
    dataset_name: str = "helpcrunch"
    # Not "helpcrunch": DuckDB names its catalog after the file, which must differ
    # from the dataset name (dlt warns, DuckDB then cannot resolve the tables).
    pipeline_name: str = "helpcrunch_sync"
    # dlt's working folder, the sync's state (default: `state_folder`).
    pipelines_dir: Path | None = None
    # With the duckdb destination: the file (default: ./<pipeline_name>.duckdb).
    duckdb_file: Path | None = None
    full: bool = False
    only: tuple[str, ...] = ()
    rate_limit: int = 120
    rate_period: float = 60.0
    concurrency: int = 8
    redis_url: str | None = None
    redis_key: str = "helpcrunch"
    overlap: int = 300
    # The webhook inbox `listen` fills (None: none); only the inbox (a live batch).
    inbox: Path | None = None
    inbox_only: bool = False
    # Re-read 1/N of the customers each run (0: off).
    refresh_days: int = 0

    def __repr__(self) -> str:
        """Name the target, never the key."""
        return f"SyncOptions(base_url={self.base_url!r}, destination={self.destination!r}, ...)"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``sync`` options to ``parser``."""
    parser.add_argument("--destination", default="duckdb", help="a dlt destination (duckdb)")
    parser.add_argument("--dataset-name", default="helpcrunch", help="default: %(default)s")
    parser.add_argument("--pipeline-name", default="helpcrunch_sync", help="default: %(default)s")
    parser.add_argument(
        "--pipelines-dir",
        type=Path,
        metavar="DIR",
        help="dlt's working folder, the sync's state (default: beside the DuckDB file)",
    )
    parser.add_argument(
        "--duckdb-file", type=Path, metavar="FILE", help="default: ./<pipeline-name>.duckdb"
    )
    parser.add_argument("--full", action="store_true", help="read everything again")
    parser.add_argument(
        "--only",
        metavar="LIST",
        help=f"comma-separated subset of {','.join(_RESOURCES)} (chats and messages go together)",
    )
    parser.add_argument("--base-url", default="https://api.helpcrunch.com/v1")
    parser.add_argument("--api-key-file", type=Path, metavar="F", help="read the key from F")
    parser.add_argument("--rate-limit", type=int, default=120, metavar="N")
    parser.add_argument("--rate-period", type=float, default=60.0, metavar="S")
    parser.add_argument("--concurrency", type=int, default=8, metavar="N")
    parser.add_argument("--redis-url", metavar="URL", help="share the rate budget through Redis")
    parser.add_argument("--redis-key", default="helpcrunch", metavar="NAME")
    parser.add_argument("--overlap", type=int, default=300, metavar="S", help="cursor overlap")
    parser.add_argument(
        "--inbox",
        nargs="?",
        const=_BESIDE,
        type=Path,
        metavar="PATH",
        help="apply the webhook events `listen` stored there first "
        f"(default: {INBOX_NAME} in the state folder)",
    )
    parser.add_argument(
        "--refresh-days",
        type=int,
        default=0,
        metavar="N",
        help="re-read 1/N of the customers each run: none more than N runs stale (0: off)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    live_cli.configure(parser)


def _only(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    unknown = [n for n in names if n not in _RESOURCES]
    if unknown:
        raise ValueError(f"--only: unknown resource {unknown[0]!r}; choose from {_RESOURCES}")
    # Messages are read for the chats that changed: the two cursors must move
    # together, or messages of chats synced without them could never be found.
    if "messages" in names and "chats" not in names:
        names = (*names, "chats")
    if "chats" in names and "messages" not in names:
        names = (*names, "messages")
    return names


def run(args: argparse.Namespace) -> int:
    """Run ``sync`` from parsed options; return the exit code."""
    try:
        key = _api_key(args.api_key_file)
        options = SyncOptions(
            api_key=key,
            base_url=args.base_url,
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
            redis_url=args.redis_url,
            redis_key=args.redis_key,
            overlap=args.overlap,
            refresh_days=_refresh_days(args.refresh_days),
        )
        options = replace(options, inbox=_inbox(args, options))
        live = live_cli.settings(args)
        _check_destination(options)
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return codes.USAGE
    # Before dlt is first imported: its runtime reads the setting once.
    _telemetry_off()
    try:
        import dlt  # noqa: F401, PLC0415 -- optional: only this command needs it
    except ImportError:
        sys.stderr.write("error: sync needs dlt: pip install 'helpcrunch-async[dlt]'\n")
        return codes.USAGE
    if live is not None:
        return live_cli.run_live(options, live, quiet=args.quiet)
    try:
        report = run_sync(options, progress=None if args.quiet else sys.stderr)
    except SyncStateError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return codes.LOCAL
    except Exception as exc:  # noqa: BLE001 -- one line and an exit code, not a traceback
        return _failed(exc, options)
    for line in summary_lines(report):
        sys.stdout.write(line + "\n")
    return codes.OK


def _inbox(args: argparse.Namespace, options: SyncOptions) -> Path | None:
    if args.inbox is None and not args.live:
        return None
    if options.only and not {"customers", "chats"} <= set(options.only):
        raise ValueError(
            "--inbox and --live apply events to customers and chats: --only needs both"
        )
    return inbox_path(options) if args.inbox in {None, _BESIDE} else Path(args.inbox)


def _refresh_days(value: int) -> int:
    if value < 0:
        raise ValueError(f"--refresh-days must be 0 (off) or more, got {value}")
    return value


def inbox_path(options: SyncOptions) -> Path:
    """Return the inbox beside the sync's state: ``<state folder>/webhooks.sqlite3``."""
    return state_folder(options) / INBOX_NAME


class SyncStateError(Exception):
    """The sync's own files cannot be used: a state it cannot read, a destination file locked."""


def _failed(error: Exception, options: SyncOptions) -> int:
    local = _local_cause(error)
    if local is not None:
        where = options.duckdb_file or Path(f"{options.pipeline_name}.duckdb")
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
    from helpcrunch_async._errors import HelpCrunchError  # noqa: PLC0415 -- light

    seen = error
    while seen.__cause__ is not None and not isinstance(seen, HelpCrunchError):
        seen = seen.__cause__
    return seen if isinstance(seen, HelpCrunchError) else error


def _api_key(path: Path | None) -> str:
    if path is not None:
        try:
            key = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read --api-key-file: {exc.strerror}") from None
    else:
        key = os.environ.get("HELPCRUNCH_API_KEY", "").strip()
    if not key:
        raise ValueError("no API key: set HELPCRUNCH_API_KEY or pass --api-key-file FILE")
    return key


def state_folder(options: SyncOptions) -> Path:
    """Return dlt's working folder of a sync: ``--pipelines-dir``, else beside the DuckDB file.

    ``./helpcrunch_sync.duckdb`` keeps its state in ``./helpcrunch_sync.dlt/``;
    a sync to another destination in ``./<pipeline-name>.dlt/``.
    """
    if options.pipelines_dir is not None:
        return options.pipelines_dir
    database = options.duckdb_file or Path(f"{options.pipeline_name}.duckdb")
    return database.with_name(database.stem + ".dlt")


def run_sync(options: SyncOptions, *, progress: TextIO | None = None) -> SyncReport:
    """Sync once (after loading what an interrupted run left pending); return the report."""
    _telemetry_off()
    import dlt  # noqa: PLC0415 -- optional dependency

    from helpcrunch_async.dlt._inbox import applied_ids, settle  # noqa: PLC0415 -- needs dlt
    from helpcrunch_async.dlt._source import SyncReport, helpcrunch_source  # noqa: PLC0415 -- needs dlt

    destination = _destination(options)
    name, dataset = options.pipeline_name, options.dataset_name
    folder = state_folder(options)
    try:
        pipeline = dlt.pipeline(name, str(folder), destination=destination, dataset_name=dataset)
        pending = pipeline.has_pending_data
    except Exception as exc:  # noqa: BLE001 -- dlt raises many kinds here (JSON, schema, OS)
        raise SyncStateError(
            f"cannot read the sync's state in {folder / name} ({type(exc).__name__}: {exc}); "
            "it is not the API's fault and running again will not mend it: move that folder "
            "away (the next sync then reads everything again) or restore it from a backup"
        ) from None
    if pending:
        # dlt loads pending packages and returns without extracting: the state
        # in that package (cursors included) becomes the state we go on from.
        if progress is not None:
            progress.write("loading the package an interrupted sync left behind\n")
        pipeline.run()
    if options.inbox is not None:
        # `listen` may not have run yet: an empty inbox beside the state.
        options.inbox.parent.mkdir(parents=True, exist_ok=True)
    report = SyncReport(expected=set(_selected(options) or _RESOURCES))
    source = helpcrunch_source(
        options.api_key,
        base_url=options.base_url,
        rate_limit=options.rate_limit,
        rate_period=options.rate_period,
        redis_url=options.redis_url,
        redis_key=options.redis_key,
        concurrency=options.concurrency,
        overlap=options.overlap,
        full=options.full,
        report=report,
        inbox=options.inbox,
        inbox_only=options.inbox_only,
        refresh_days=options.refresh_days,
    )
    if options.inbox_only or options.only:
        source = source.with_resources(*_selected(options))
    stop = threading.Event()
    ticker = None
    if progress is not None:
        ticker = threading.Thread(target=_progress, args=(report, progress, stop), daemon=True)
        ticker.start()
    try:
        # DuckDB reads Parquet in bulk; dlt's default for it, SQL INSERT
        # statements, loads 20,000 customers in 20 s here instead of 2. (JSONL
        # would be as fast, but DuckDB's reader fails on a key its sample of
        # the file never saw, as dlt's own code notes.)
        if options.destination == "duckdb":
            pipeline.run(source, loader_file_format="parquet")
        else:
            pipeline.run(source)
    finally:
        stop.set()
        if ticker is not None:
            ticker.join()
    if options.inbox is not None:
        # Committed: the events this load applied leave the inbox now (else the next run).
        settle(options.inbox, applied_ids(pipeline.state.get("sources", {}).get("helpcrunch", {})))
    return report


def _check_destination(options: SyncOptions) -> None:
    if options.duckdb_file is not None and options.destination != "duckdb":
        raise ValueError("--duckdb-file goes with --destination duckdb")


def _destination(options: SyncOptions) -> Any:
    import dlt  # noqa: PLC0415 -- optional dependency

    _check_destination(options)
    if options.destination == "duckdb":
        database = options.duckdb_file or Path(f"{options.pipeline_name}.duckdb")
        return dlt.destinations.duckdb(str(database))
    return options.destination


def _selected(options: SyncOptions) -> tuple[str, ...]:
    # A live batch reads only what events name: no team lists.
    return ("customers", "chats", "messages") if options.inbox_only else options.only


def _telemetry_off() -> None:
    """Turn dlt's anonymous telemetry off for this process: our command calls nowhere unasked.

    dlt reads ``RUNTIME__DLTHUB_TELEMETRY`` when it first sets up its runtime;
    if that happened already (dlt used earlier in the process), its tracker
    is stopped here as well.
    """
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    if "dlt" in sys.modules:
        from dlt.common.runtime import telemetry  # noqa: PLC0415 -- only once dlt is loaded

        if telemetry.is_telemetry_started():
            telemetry.stop_telemetry()


def _progress(report: SyncReport, out: TextIO, stop: threading.Event) -> None:
    started = time.monotonic()
    while not stop.wait(2.0):
        out.write(_progress_line(report, time.monotonic() - started) + "\n")
        out.flush()


def _progress_line(report: SyncReport, elapsed: float) -> str:
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
    for name in _RESOURCES:
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
