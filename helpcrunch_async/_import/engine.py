"""Run one import: windows of rows looked up, decided, written, then settled in the checkpoint.

The decisions are pure (`_core.import_rows`, `_core.import_lookup`,
`_core.import_plan`, `_core.import_journal`); this module only sends and
records. Per window of rows: the keys are looked up, many to a search; each row
is decided; the plan goes to the checkpoint; the updates go out through
``customers.update_many`` (ten a request), the tags a customer lacks through
``customers.tag``, the creates one a request through ``customers.create``
(which reads back a create whose answer was lost, never sending it twice); the
rejects are appended; the window is settled. Every request draws on one client's
cap, and `CountingBudget` counts every attempt on the wire.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from helpcrunch_async._client import HelpCrunch
from helpcrunch_async._core.filters import Filter
from helpcrunch_async._core.import_journal import (
    Counts,
    ImportSettings,
    Journal,
    check_resume,
    finish,
    plan,
    planned_for,
    settle,
    start,
)
from helpcrunch_async._core.import_lookup import (
    PAGE,
    REFUSED_SIZE_STATUSES,
    SEARCH_FIELDS,
    START_KEYS,
    batches,
    by_key,
    next_offset,
    smaller,
)
from helpcrunch_async._core.import_plan import Decision, decide
from helpcrunch_async._core.import_rows import KeyTracker, Rejected, Row
from helpcrunch_async._core.params import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_PERIOD,
)
from helpcrunch_async._errors import (
    AmbiguousWriteError,
    APIError,
    BadRequestError,
    NotFoundError,
)
from helpcrunch_async._export.checkpoint import ExportRefusedError
from helpcrunch_async._import.files import (
    RejectsFile,
    digest,
    journal_path,
    read_journal,
    read_rows,
    rejects_path,
    write_journal,
)
from helpcrunch_async._shell.budget import LocalBudget
from helpcrunch_async._shell.counting import CountingBudget

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from pathlib import Path

    from helpcrunch_async._core.import_rows import Match, Mode
    from helpcrunch_async._export.stopping import Stopper
    from helpcrunch_async._models.customers import Customer
    from helpcrunch_async._shell.budget import RateBudget

__all__ = [
    "WINDOW",
    "ImportOptions",
    "ImportResult",
    "Progress",
    "check_rows",
    "import_file",
]

State = Literal["complete", "already complete", "interrupted", "failed", "refused"]
WINDOW = 500
"""Rows decided and written together: a crash redoes at most this many lookups."""


@dataclass(slots=True, kw_only=True)
class ImportOptions:
    """Everything one import needs; the key is kept out of the repr."""

    source: Path
    format: str
    match: Match
    mode: Mode
    api_key: str = field(repr=False)
    base_url: str
    guarded: bool = True
    resume: bool = False
    overwrite: bool = False
    strict: bool = False
    rate_limit: int = DEFAULT_RATE_LIMIT
    rate_period: float = DEFAULT_RATE_PERIOD
    concurrency: int = DEFAULT_CONCURRENCY
    rate_budget: RateBudget | None = None
    max_rate_limit_wait: float | None = DEFAULT_MAX_RATE_LIMIT_WAIT
    window: int = WINDOW


@dataclass(slots=True)
class ImportResult:
    """How an import ended: its state, the counts of every settled row, the requests it cost."""

    state: State
    counts: Counts
    rows: int
    requests: int = 0
    elapsed: float = 0.0
    error: BaseException | None = None
    signal_name: str | None = None
    rejects: Path | None = None


@dataclass(slots=True)
class Progress:
    """Where a running import is: its ``rows``, the ``counts`` of those settled, its costs.

    ``requests`` counts every attempt on the wire so far, ``searches`` the
    search pages read.
    """

    rows: int
    counts: Counts = field(default_factory=Counts)
    requests: int = 0
    searches: int = 0


def check_rows(options: ImportOptions) -> list[Row | Rejected]:
    """Read and check every row of the input before any request (rules of `_core.import_rows`)."""
    keys = KeyTracker()
    return [
        keys.check(row) if isinstance(row, Row) else row
        for row in read_rows(options.source, options.format, options.match, guarded=options.guarded)
    ]


async def import_file(
    options: ImportOptions,
    *,
    progress: Callable[[Progress], None] | None = None,
    stopper: Stopper | None = None,
) -> ImportResult:
    """Import ``options.source``; say how it ended.

    Refusals (`ExportRefusedError`: a resume with other settings, an existing
    checkpoint without ``--resume``/``--overwrite``) and bad input
    (`InvalidParameterError`: a CSV header the export does not write) are raised
    before any request; errors while writing are returned in the result.
    """
    began = time.monotonic()
    sha, size = digest(options.source)
    settings = ImportSettings(
        input_sha256=sha,
        input_bytes=size,
        format=options.format,
        match=options.match,
        mode=options.mode,
        base_url=options.base_url,
        guarded=options.guarded,
    )
    rows = check_rows(options)
    saved = _saved_journal(options, settings)
    early = [row for row in rows if isinstance(row, Rejected)]
    if options.strict and early:
        return _refuse(options, saved, early, len(rows))
    journal = saved or start(settings)
    if saved is None:
        write_journal(journal_path(options.source), journal)
    state = Progress(len(rows), journal.counts)
    if journal.complete:
        return ImportResult("already complete", journal.counts, len(rows))
    budget = CountingBudget(
        options.rate_budget or LocalBudget(options.rate_limit, options.rate_period)
    )
    rejects = RejectsFile(rejects_path(options.source), keep=journal.rejects_bytes)
    job = _Job(options, rows, journal, rejects, state=state, progress=progress, budget=budget)
    try:
        async with HelpCrunch(
            options.api_key,
            base_url=options.base_url,
            concurrency=options.concurrency,
            rate_budget=budget,
            max_rate_limit_wait=options.max_rate_limit_wait,
        ) as client:
            task = asyncio.create_task(job.run(client))
            if stopper is not None:
                stopper.watch(task)
            try:
                await task
            except asyncio.CancelledError:
                if stopper is None or stopper.signal_name is None:
                    raise
                result = ImportResult("interrupted", job.journal.counts, len(rows))
                result.signal_name = stopper.signal_name
            except Exception as exc:  # noqa: BLE001 -- every failure is reported, then mapped
                result = ImportResult("failed", job.journal.counts, len(rows), error=exc)
            else:
                result = ImportResult("complete", job.journal.counts, len(rows))
    finally:
        rejects.close()
    result.requests = budget.requests
    result.elapsed = time.monotonic() - began
    result.rejects = rejects.path
    return result


def _saved_journal(options: ImportOptions, settings: ImportSettings) -> Journal | None:
    """Return the checkpoint to resume (None: start anew), or refuse; write nothing."""
    path = journal_path(options.source)
    saved = read_journal(path)
    if saved is not None and options.resume:
        check_resume(saved, settings, path)
        return saved
    if saved is not None and not options.overwrite:
        raise ExportRefusedError(
            f"an import of {options.source} began already ({path.name}); pass --resume to "
            "continue it or --overwrite to start over"
        )
    return None


def _refuse(
    options: ImportOptions, saved: Journal | None, early: list[Rejected], rows: int
) -> ImportResult:
    """``--strict`` with bad rows: list them in the rejects file, start nothing, send nothing."""
    result = ImportResult("refused", Counts(rejected=len(early)), rows)
    # A started import's rejects file belongs to its checkpoint: leave it as it is.
    if saved is None:
        rejects = RejectsFile(rejects_path(options.source), keep=0)
        try:
            rejects.append(early)
        finally:
            rejects.close()
        result.rejects = rejects.path
    return result


@dataclass(slots=True)
class _Outcome:
    """What became of the rows of one window."""

    counts: Counts = field(default_factory=Counts)
    rejects: list[Rejected] = field(default_factory=list)


class _Job:
    def __init__(
        self,
        options: ImportOptions,
        rows: list[Row | Rejected],
        journal: Journal,
        rejects: RejectsFile,
        *,
        state: Progress,
        progress: Callable[[Progress], None] | None,
        budget: CountingBudget,
    ) -> None:
        self.options = options
        self.rows = rows
        self.journal = journal
        self.rejects = rejects
        self.state = state
        self.budget = budget
        self.progress = progress
        self.keys_per_search = START_KEYS
        self.path = journal_path(options.source)

    async def run(self, client: HelpCrunch) -> None:
        todo = [row for row in self.rows if row.line > self.journal.lines_done]
        size = self.options.window
        for k in range(0, len(todo), size):
            await self._window(client, todo[k : k + size])
        self.journal = finish(self.journal)
        write_journal(self.path, self.journal)

    async def _window(self, client: HelpCrunch, window: list[Row | Rejected]) -> None:
        rows = [row for row in window if isinstance(row, Row)]
        found = await self._lookup(client, [row.key for row in rows])
        decisions = {
            row.line: decide(
                row,
                found[row.key],
                self.options.mode,
                planned=planned_for(self.journal, row.line),
            )
            for row in rows
        }
        end = window[-1].line
        self.journal = plan(self.journal, end, {line: d.action for line, d in decisions.items()})
        write_journal(self.path, self.journal)
        outcome = _Outcome(rejects=[row for row in window if isinstance(row, Rejected)])
        refused = await self._write(client, rows, decisions)
        for row in rows:
            decision = decisions[row.line]
            reason = decision.reason or refused.get(row.line)
            if reason is not None:
                outcome.rejects.append(Rejected(row.line, reason))
            else:
                outcome.counts.add(decision.counted)
        outcome.rejects.sort(key=lambda reject: reject.line)
        outcome.counts.rejected += len(outcome.rejects)
        size = self.rejects.append(outcome.rejects)
        self.journal = settle(self.journal, end, outcome.counts, size)
        write_journal(self.path, self.journal)
        self.state.counts = self.journal.counts
        self.state.requests = self.budget.requests
        if self.progress is not None:
            self.progress(self.state)

    async def _lookup(self, client: HelpCrunch, keys: list[str]) -> dict[str, list[Customer]]:
        field_name = SEARCH_FIELDS[self.options.match]
        gate = asyncio.Semaphore(self.options.concurrency)
        found: list[Customer] = []

        async def search(keys: list[str]) -> None:
            where = [Filter(field_name, "=", key) for key in keys]
            offset: int | None = 0
            try:
                while offset is not None:
                    async with gate:
                        page = await client.customers.search(
                            where, comparison="OR", offset=offset, limit=PAGE
                        )
                    found.extend(page.data)
                    self.state.searches += 1
                    offset = next_offset(offset, len(page.data), page.total)
            except APIError as exc:
                less = smaller(self.keys_per_search, len(keys))
                if exc.status not in REFUSED_SIZE_STATUSES or less is None:
                    raise
                self.keys_per_search = min(self.keys_per_search, less)
                await _all([search(part) for part in batches(keys, less)])

        await _all([search(part) for part in batches(keys, self.keys_per_search)])
        return by_key(keys, found, self.options.match)

    async def _write(
        self, client: HelpCrunch, rows: Sequence[Row], decisions: dict[int, Decision]
    ) -> dict[int, str]:
        """Send the window's writes; return the rows the server refused, with its reasons."""
        refused: dict[int, str] = {}
        updates = [(row.line, d) for row in rows if (d := decisions[row.line]).action == "update"]
        items = [{"id": d.customer_id, **d.fields} for _, d in updates if d.fields]
        lines = [line for line, d in updates if d.fields]
        results = await client.customers.update_many(items) if items else []
        for line, result in zip(lines, results, strict=True):
            if result.status == "not_found":
                refused[line] = f"customer {result.id} was deleted during the import"
            elif result.status == "refused":
                refused[line] = "refused: " + "; ".join(
                    f"{e.code}: {e.message}" for e in result.errors
                )
        gate = asyncio.Semaphore(self.options.concurrency)

        async def one(line: int, send: Callable[[], Awaitable[Any]]) -> None:
            async with gate:
                try:
                    await send()
                except (BadRequestError, NotFoundError) as exc:
                    refused[line] = f"refused: {exc}"
                except AmbiguousWriteError as exc:
                    # Rare (several customers fit the read-back): say so, never guess.
                    refused[line] = f"may or may not have been written: {exc}"

        sends: list[Awaitable[None]] = []
        for row in rows:
            decision = decisions[row.line]
            if decision.action == "create":
                sends.append(one(row.line, functools.partial(_create, client, decision.fields)))
            elif decision.add_tags and row.line not in refused:
                ident = decision.customer_id
                assert ident is not None  # noqa: S101 -- an update names its customer
                tag = functools.partial(client.customers.tag, ident, decision.add_tags)
                sends.append(one(row.line, tag))
        await _all(sends)
        return refused


async def _create(client: HelpCrunch, fields: dict[str, Any]) -> None:
    await client.customers.create(**fields)


async def _all(sends: Sequence[Awaitable[None]]) -> None:
    """Await every one of ``sends`` at once; on the first failure cancel the rest, then raise."""
    tasks = [asyncio.ensure_future(send) for send in sends]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        # Every task ends before the window does: none is left pending.
        await asyncio.gather(*tasks, return_exceptions=True)
