"""One sync run, as ``helpcrunch-async sync`` (``_cli.sync``) and the sync demo make it.

`run_sync` first loads a package that an interrupted run left pending (dlt
then stops; the cursors in that package are the ones that count), then runs
the source, drawing progress; `summary_lines` says per table the rows new,
changed, re-read and deleted, the requests spent, and what a full pass would
cost.

A run turns dlt's anonymous telemetry off (its own runs only: a pipeline of
the user's keeps the user's setting), and keeps dlt's working folder (the
sync's state) beside the DuckDB file unless told otherwise. Nothing here
imports dlt until a sync runs.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from helpcrunch_async._core.params import (
    DEFAULT_BASE_URL,
    DEFAULT_BUDGET_KEY,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_PERIOD,
)
from helpcrunch_async._export.progress import ProgressDisplay
from helpcrunch_async._resources.changes import DEFAULT_OVERLAP

if TYPE_CHECKING:
    from helpcrunch_async.dlt._source import SyncReport

__all__ = [
    "RESOURCE_NAMES",
    "SyncOptions",
    "SyncStateError",
    "run_sync",
    "state_folder",
    "summary_lines",
    "telemetry_off",
]

# The source's resources, in the summary's order; named here too so that the
# command line can check --only without importing dlt.
RESOURCE_NAMES = ("customers", "chats", "messages", "agents", "departments")
# Seconds between progress lines when run_sync is handed a bare stream.
_INTERVAL = 2.0


@dataclass(frozen=True)
class SyncOptions:
    """Everything one sync needs; the key is held here only, never printed."""

    api_key: str
    base_url: str = DEFAULT_BASE_URL
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
    rate_limit: int = DEFAULT_RATE_LIMIT
    rate_period: float = DEFAULT_RATE_PERIOD
    concurrency: int = DEFAULT_CONCURRENCY
    max_rate_limit_wait: float | None = DEFAULT_MAX_RATE_LIMIT_WAIT
    redis_url: str | None = None
    redis_key: str = DEFAULT_BUDGET_KEY
    overlap: int = DEFAULT_OVERLAP

    def __repr__(self) -> str:
        """Name the target, never the key."""
        return f"SyncOptions(base_url={self.base_url!r}, destination={self.destination!r}, ...)"


class SyncStateError(Exception):
    """The sync's own files cannot be used: a state it cannot read, a destination file locked."""


def state_folder(options: SyncOptions) -> Path:
    """Return dlt's working folder of a sync: ``--pipelines-dir``, else beside the DuckDB file.

    ``./helpcrunch_sync.duckdb`` keeps its state in ``./helpcrunch_sync.dlt/``;
    a sync to another destination in ``./<pipeline-name>.dlt/``.
    """
    if options.pipelines_dir is not None:
        return options.pipelines_dir
    database = options.duckdb_file or Path(f"{options.pipeline_name}.duckdb")
    return database.with_name(database.stem + ".dlt")


def run_sync(
    options: SyncOptions, *, progress: ProgressDisplay | TextIO | None = None
) -> SyncReport:
    """Sync once (after loading what an interrupted run left pending); return the report.

    ``progress`` draws a line every few seconds while the sync runs: a
    `ProgressDisplay`, or a stream that gets a log line every 2 seconds.
    """
    display = _display(progress)
    telemetry_off()
    import dlt  # noqa: PLC0415 -- optional dependency

    from helpcrunch_async.dlt._source import SyncReport, helpcrunch_source  # noqa: PLC0415 -- needs dlt

    destination: Any = options.destination
    if options.destination == "duckdb":
        database = options.duckdb_file or Path(f"{options.pipeline_name}.duckdb")
        destination = dlt.destinations.duckdb(str(database))
    elif options.duckdb_file is not None:
        raise ValueError("--duckdb-file goes with --destination duckdb")
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
        if display is not None:
            display.say("loading the package an interrupted sync left behind")
        pipeline.run()
    report = SyncReport(expected=set(options.only or RESOURCE_NAMES))
    source = helpcrunch_source(
        options.api_key,
        base_url=options.base_url,
        rate_limit=options.rate_limit,
        rate_period=options.rate_period,
        redis_url=options.redis_url,
        redis_key=options.redis_key,
        concurrency=options.concurrency,
        max_rate_limit_wait=options.max_rate_limit_wait,
        overlap=options.overlap,
        full=options.full,
        report=report,
    )
    if options.only:
        source = source.with_resources(*options.only)
    stop = threading.Event()
    ticker = None
    if display is not None:
        ticker = threading.Thread(target=_progress, args=(report, display, stop), daemon=True)
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
    return report


def _display(progress: ProgressDisplay | TextIO | None) -> ProgressDisplay | None:
    if progress is None or isinstance(progress, ProgressDisplay):
        return progress
    return ProgressDisplay(progress, live=False, interval=_INTERVAL)


def telemetry_off() -> None:
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


def _progress(report: SyncReport, display: ProgressDisplay, stop: threading.Event) -> None:
    # A thread, not a task: dlt runs the pipeline (and its own event loop) in this one.
    started = time.monotonic()
    while not stop.wait(display.period):
        display.show(_progress_line(report, time.monotonic() - started))
    display.clear()


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
    return lines
