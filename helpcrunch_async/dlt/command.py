"""One sync run, as ``helpcrunch-async sync`` (``_cli.sync``) and the sync demo make it.

`run_sync` first loads a package that an interrupted run left pending (dlt
then stops; the cursors in that package are the ones that count), then runs
the source, telling a `SyncProgress` (the command line's, `_cli.sync_report`)
what it does.

A run turns dlt's anonymous telemetry off (its own runs only: a pipeline of
the user's keeps the user's setting), and keeps dlt's working folder (the
sync's state) beside the DuckDB file unless told otherwise. Nothing here
imports dlt until a sync runs.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from helpcrunch_async import (
    DEFAULT_BASE_URL,
    DEFAULT_BUDGET_KEY,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_PERIOD,
)
from helpcrunch_async._sync.inbox_file import INBOX_NAME, applied_ids, settle
from helpcrunch_async._sync.reads import DEFAULT_OVERLAP

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from helpcrunch_async.dlt._source import SyncReport

__all__ = [
    "RESOURCE_NAMES",
    "SyncOptions",
    "SyncProgress",
    "SyncStateError",
    "run_sync",
    "state_folder",
    "telemetry_off",
]

# The source's resources, in the summary's order; named here too so that the
# command line can check --only without importing dlt.
RESOURCE_NAMES = ("customers", "chats", "messages", "agents", "departments")


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
    # The webhook inbox `listen` fills (None: none); only the inbox (a live batch).
    inbox: Path | None = None
    inbox_only: bool = False
    # Re-read 1/N of the customers each run (0: off).
    refresh_days: int = 0

    def __repr__(self) -> str:
        """Name the target, never the key."""
        return f"SyncOptions(base_url={self.base_url!r}, destination={self.destination!r}, ...)"


def inbox_path(options: SyncOptions) -> Path:
    """Return the inbox beside the sync's state: ``<state folder>/webhooks.sqlite3``."""
    return state_folder(options) / INBOX_NAME


class SyncProgress(Protocol):
    """What shows a sync's progress (the command line's display, in ``_cli``)."""

    def say(self, text: str) -> None:
        """Say ``text`` on a line of its own."""

    def watching(self, report: SyncReport) -> AbstractContextManager[object]:
        """Return a context that shows ``report`` as it fills, while the pipeline runs."""


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


def run_sync(options: SyncOptions, *, progress: SyncProgress | None = None) -> SyncReport:
    """Sync once (after loading what an interrupted run left pending); return the report.

    ``progress``, when given, is told what the run does (`SyncProgress`).
    """
    telemetry_off()
    import dlt  # noqa: PLC0415 -- optional dependency

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
            progress.say("loading the package an interrupted sync left behind")
        pipeline.run()
    if options.inbox is not None:
        # `listen` may not have run yet: an empty inbox beside the state.
        options.inbox.parent.mkdir(parents=True, exist_ok=True)
    report = SyncReport(expected=set(_selected(options) or RESOURCE_NAMES))
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
        inbox=options.inbox,
        inbox_only=options.inbox_only,
        refresh_days=options.refresh_days,
    )
    if options.inbox_only or options.only:
        source = source.with_resources(*_selected(options))
    with contextlib.nullcontext() if progress is None else progress.watching(report):
        # DuckDB reads Parquet in bulk; dlt's default for it, SQL INSERT
        # statements, loads 20,000 customers in 20 s here instead of 2. (JSONL
        # would be as fast, but DuckDB's reader fails on a key its sample of
        # the file never saw, as dlt's own code notes.)
        if options.destination == "duckdb":
            pipeline.run(source, loader_file_format="parquet")
        else:
            pipeline.run(source)
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
