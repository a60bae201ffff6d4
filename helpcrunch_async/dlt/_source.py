"""`helpcrunch_source`: a dlt source of customers, chats, messages, agents and departments.

Every resource merges on its primary key ``id``. A resource's cursors and the
ids it holds live in its dlt resource state, which dlt saves with the load
package that carries the data: a run that dies before its package loads leaves
the cursors where the last loaded package put them (and ``dlt`` loads a pending
package before it extracts anything new; `run_sync` runs it first).

What each run reads:

- ``customers``: the first run (or ``full=True``) reads them all; later runs
  check for deletions by counting id ranges (`reconcile_ids`), then read the
  customers seen since the last run or created after the highest id held
  (`iter_changed_customers`). Deleted ones become hard deletes: a row with the
  ``id`` and ``_hc_deleted = true``, a column dlt's ``hard_delete`` hint marks.
- ``chats``: all at first; then those updated or created since the last run.
- ``messages`` (a transformer of ``chats``): the messages of the chats that
  chats yields, and of those only the ones created since the last run, in
  whatever order the server lists them (`iter_new_messages`).

Cursors never move past the server's present (`next_cursor`, from its ``Date``
header). A held row counts as changed only with a sign of change (`TableReport`).
- ``agents``, ``departments``: read whole every run (a few pages); the ids no
  longer there become hard deletes.

Records leave as dicts, nested values as JSON columns (see `dlt._rows`).

With an inbox, its webhook events are applied first (`dlt._inbox`). What no
event or request can see (an agent's edit of a name, a deleted chat, an edited
old message) the refresh slice or ``full=True`` reads again.
"""

from __future__ import annotations

import logging
import os
from array import array
from typing import TYPE_CHECKING, Any

import dlt

from helpcrunch_async import (
    DEFAULT_BUDGET_KEY,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_PERIOD,
    Agent,
    Chat,
    Customer,
    Department,
    Message,
)
from helpcrunch_async._sync.checks import check_source
from helpcrunch_async._sync.held import decode_ids, encode_ids
from helpcrunch_async._sync.inbox_file import APPLIED_KEY, take
from helpcrunch_async._sync.plan import next_cursor, refresh_slice, scan_from
from helpcrunch_async._sync.reads import (
    DEFAULT_OVERLAP,
    chats_high_water,
    customers_high_water,
    iter_changed_chats,
    iter_changed_customers,
    iter_new_messages,
    read_customer_ranges,
)
from helpcrunch_async._sync.session import SharedClient, local_budget, redis_budget
from helpcrunch_async.dlt._deletions import after_scan, counted_deletions
from helpcrunch_async.dlt._inbox import inbox_chats, inbox_customers
from helpcrunch_async.dlt._report import InboxReport, SyncReport, TableReport
from helpcrunch_async.dlt._rows import (
    BATCH,
    DELETED_COLUMN,
    RESOURCES,
    Batches,
    after,
    chain,
    chat_times,
    columns,
    created_after,
    customer_times,
    deleted,
    digest,
    each,
    held_ids,
    record,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from dlt.extract.source import DltSource

    from helpcrunch_async._sync.inbox import InboxBatch

__all__ = ["DELETED_COLUMN", "RESOURCES", "SyncReport", "TableReport", "helpcrunch_source"]

logger = logging.getLogger("helpcrunch_async")


def helpcrunch_source(
    api_key: str | None = None,
    *,
    base_url: str | None = None,
    rate_limit: int = DEFAULT_RATE_LIMIT,
    rate_period: float = DEFAULT_RATE_PERIOD,
    redis_url: str | None = None,
    redis_key: str = DEFAULT_BUDGET_KEY,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_rate_limit_wait: float | None = DEFAULT_MAX_RATE_LIMIT_WAIT,
    overlap: int = DEFAULT_OVERLAP,
    full: bool = False,
    report: SyncReport | None = None,
    inbox: str | os.PathLike[str] | None = None,
    inbox_only: bool = False,
    inbox_limit: int = 100_000,
    refresh_days: int = 0,
) -> DltSource:
    """Return the HelpCrunch dlt source: customers, chats, messages, agents, departments.

    One client, so one cap (``rate_limit`` per ``rate_period`` seconds), serves
    every resource of a run; ``redis_url`` shares it with other processes
    (``redis_key`` names the budget). ``api_key`` falls back to
    ``HELPCRUNCH_API_KEY``, then to dlt's secrets (``sources.helpcrunch.api_key``);
    it is never written to dlt's state, trace or schema. ``base_url`` falls back
    as the client's does (``HELPCRUNCH_BASE_URL``, then the real API); a 429 asking
    for a pause longer than ``max_rate_limit_wait`` seconds stops the run with
    `RateLimitError` (None: wait as asked), as the client's. ``overlap`` seconds are
    subtracted from each cursor (clock skew, visits in flight). ``full``
    reads everything again and applies the deletions that shows. ``report``,
    when given, is filled in as the run goes.

    ``inbox`` is the SQLite file ``helpcrunch-async listen`` fills with webhook
    events: the run applies up to ``inbox_limit`` of them first (customers
    named read again whole by id, many a request; deleted ones deleted; chats
    named read again with their new messages), each record once however many
    events name it, and settles them once their load is committed (see
    `helpcrunch_async._sync.inbox_file`). ``inbox_only`` applies the inbox and
    nothing else (the batches of ``sync --live``). ``refresh_days`` N > 0 re-reads
    ``1/N`` of the customers held each run, so each is read whole at least once
    every N runs.
    """
    check_source(
        refresh_days=refresh_days,
        inbox_only=inbox_only,
        has_inbox=inbox is not None,
        inbox_limit=inbox_limit,
    )
    key = api_key
    if key is None:
        key = os.environ.get("HELPCRUNCH_API_KEY") or dlt.secrets.get(
            "sources.helpcrunch.api_key", str
        )
    make_budget = (
        local_budget(rate_limit, rate_period)
        if redis_url is None
        else redis_budget(redis_url, redis_key, rate_limit, rate_period)
    )
    shared = SharedClient(
        make_budget,
        {
            "api_key": key,
            "base_url": base_url,
            "concurrency": concurrency,
            "max_rate_limit_wait": max_rate_limit_wait,
        },
    )
    run = report if report is not None else SyncReport()
    run.live_requests = lambda: shared.requests
    run.refresh_days = refresh_days
    run.inbox_only = inbox_only
    resources = _Resources(
        shared,
        run,
        overlap=overlap,
        full=full,
        concurrency=concurrency,
        refresh_days=refresh_days,
        inbox_only=inbox_only,
    )

    source: DltSource = _source(resources, inbox, inbox_limit)
    return source


def _source(
    resources: _Resources, inbox: str | os.PathLike[str] | None, inbox_limit: int
) -> DltSource:
    @dlt.source(name="helpcrunch", max_table_nesting=0)
    def helpcrunch() -> Any:
        if inbox is not None:
            batch = take(inbox, dlt.current.source_state(), inbox_limit)
            resources.apply(batch)
        merge: dict[str, Any] = {"primary_key": "id", "write_disposition": "merge"}
        chats = dlt.resource(_plain(resources.chats), name="chats", columns=columns(Chat), **merge)
        return [
            dlt.resource(
                _plain(resources.customers), name="customers", columns=columns(Customer), **merge
            ),
            chats,
            dlt.transformer(
                _per_item(resources.messages),
                name="messages",
                data_from=chats,
                columns=columns(Message),
                **merge,
            ),
            dlt.resource(_plain(resources.agents), name="agents", columns=columns(Agent), **merge),
            dlt.resource(
                _plain(resources.departments),
                name="departments",
                columns=columns(Department),
                **merge,
            ),
        ]

    source: DltSource = helpcrunch()
    return source


def _plain(method: Callable[[], Batches]) -> Callable[[], Batches]:
    # dlt tags the function it is given, which a bound method cannot take.
    async def resource() -> Batches:
        async for batch in method():
            yield batch

    return resource


def _per_item(
    method: Callable[[list[dict[str, Any]]], Batches],
) -> Callable[[list[dict[str, Any]]], Batches]:
    async def transformer(page: list[dict[str, Any]]) -> Batches:
        async for batch in method(page):
            yield batch

    return transformer


class _Resources:
    """The resources' generators, sharing one client and one report."""

    def __init__(
        self,
        shared: SharedClient,
        report: SyncReport,
        *,
        overlap: int,
        full: bool,
        concurrency: int,
        refresh_days: int = 0,
        inbox_only: bool = False,
    ) -> None:
        self._refresh_days = refresh_days
        self._inbox_only = inbox_only
        self._batch: InboxBatch | None = None
        # Chats read again for their customer's summary alone: no messages to read.
        self._summary_only: set[int] = set()
        self._shared = shared
        self._report = report
        self._overlap = overlap
        self._full = full
        self._concurrency = concurrency
        # The chats' cursor of this run, for the messages (set before chats yields).
        self._chats_cursor: int | None = None
        self._messages_since: tuple[int | None] | None = None

    def apply(self, batch: InboxBatch) -> None:
        """Apply ``batch`` of webhook events first in this run."""
        self._batch, self._report.inbox = batch, InboxReport.of(batch)

    def _inbox(self) -> tuple[InboxBatch, InboxReport]:
        assert self._batch is not None  # noqa: S101 -- called only with a batch
        assert self._report.inbox is not None  # noqa: S101 -- set with it by apply
        return self._batch, self._report.inbox

    def _spent(self, finished: str | None = None) -> None:
        self._report.requests = self._shared.requests
        if finished is not None:
            self._report.finished.add(finished)
            if self._batch is not None and {"customers", "chats"} <= self._report.finished:
                # By a resource (dlt keeps only the source state they write), once both
                # resources that apply events are done.
                dlt.current.source_state()[APPLIED_KEY] = list(self._batch.event_ids)

    async def customers(self) -> Batches:
        """Yield the inbox's customers; then every customer at first, or deletions and changes."""
        client = await self._shared.get()
        state = dlt.current.resource_state()
        table = self._report.table("customers")
        held = held_ids(state)
        since = None if self._full else state.get("since")
        after_id = state.get("after_id")
        last_id = int(after_id) if after_id is not None else None
        # Customers read whole this run (the inbox's): the scans do not load them again.
        fresh: set[int] = set()
        gone: set[int] = set()
        if self._batch is not None and since is not None:
            inbox = inbox_customers(client, *self._inbox(), table, set(held), fresh, gone)
            async for batch in inbox:
                yield batch
            if self._inbox_only:
                state["held"] = encode_ids([*(i for i in held if i not in gone), *fresh])
                self._spent("customers")
                return
        # The server's clock when the scan starts: the next run's cursor.
        low = None if since is None else scan_from(int(since), self._overlap)
        high = await customers_high_water(client.customers, since=low)
        cursor = next_cursor(
            high, client.customers.server_time, None if since is None else int(since)
        )
        scan: AsyncIterator[Any]
        if since is None:
            self._report.full_reads.add("customers")
            scan = client.customers.iter_all(sort="customers.firstSeen", order="asc")
        else:
            unknown: list[int] = []
            async for batch in counted_deletions(client, table, held, last_id, gone, unknown):
                yield batch
            scan = chain(
                iter_changed_customers(
                    client.customers, since=int(since), after_id=last_id, overlap=self._overlap
                ),
                # Customers inside the held range that were never held (see reconcile).
                each(client.customers.get, unknown),
            )
        seen: array[int] = array("q")
        moved = after(since, customer_times, lambda: client.customers.server_time)
        async for batch in self._batches(table, scan, set(held), seen, moved, skip=gone | fresh):
            yield batch
        async for batch in after_scan(client, table, held, since, last_id, seen, fresh, gone):
            yield batch
        kept = [i for i in held if i not in gone] if since is not None else []
        now_held = encode_ids([*kept, *seen, *fresh])
        if self._refresh_days and since is not None:
            async for batch in self._refresh(client, table, state, now_held, {*seen, *fresh}):
                yield batch
        # What a full pass would cost now, without a request to count them.
        total = len(decode_ids(now_held))
        self._report.totals["customers"] = total
        self._report.full_pass_requests["customers"] = max(1, -(-total // 100))
        state["held"] = now_held
        state["since"] = cursor if cursor is not None else 0
        # Ids only grow: the highest ever held, even if that customer is gone.
        previous = [last_id] if last_id is not None else []
        state["after_id"] = max([*seen, *kept[-1:], *fresh, *previous], default=None)
        self._spent("customers")

    async def _refresh(
        self,
        client: Any,
        table: TableReport,
        state: dict[str, Any],
        held: bytes,
        read: set[int],
    ) -> Batches:
        """Yield this run's refresh slice (`refresh_slice`): customers re-read by id range."""
        after = state.get("refresh_after")
        plan = refresh_slice(
            decode_ids(held), None if after is None else int(after), self._refresh_days
        )
        rows: list[dict[str, Any]] = []
        async for customer in read_customer_ranges(client.customers, plan.ranges):
            self._report.refreshed += 1
            if customer.id in read:
                continue  # read this run already
            read.add(customer.id)
            table.reread += 1
            rows.append(record(customer))
            if len(rows) >= BATCH:
                yield rows
                rows = []
        if rows:
            yield rows
        state["refresh_after"] = plan.next_after

    async def _batches(
        self,
        table: TableReport,
        scan: AsyncIterator[Any],
        held: set[int],
        seen: array[int],
        changed: Callable[[Any], bool],
        *,
        skip: set[int] | frozenset[int] = frozenset(),
    ) -> Batches:
        batch: list[dict[str, Any]] = []
        async for item in scan:
            if item.id in skip:
                continue
            seen.append(item.id)
            moved = changed(item)  # asked of every row: it may note what it saw
            if item.id not in held:
                table.new += 1
            elif moved:
                table.changed += 1
            else:
                table.reread += 1
            batch.append(record(item))
            if len(batch) >= BATCH:
                yield batch
                batch = []
                self._spent()
                self._total(table, scan)
        if batch:
            yield batch

    def _total(self, table: TableReport, scan: AsyncIterator[Any]) -> None:
        # A full read's scan knows the server's total: progress can show an ETA.
        stats = getattr(scan, "stats", None)
        total = getattr(stats, "total_at_end", None)
        if isinstance(total, int):
            name = next(n for n, t in self._report.tables.items() if t is table)
            self._report.totals[name] = total

    async def chats(self) -> Batches:
        """Yield the inbox's chats; then every chat at first, or those updated or created since."""
        client = await self._shared.get()
        state = dlt.current.resource_state()
        table = self._report.table("chats")
        held = held_ids(state)
        since = None if self._full else state.get("since")
        previous = None if since is None else int(since)
        after_id = state.get("after_id", held[-1] if held else None)
        fresh: set[int] = set()
        gone: set[int] = set()
        if self._batch is not None and previous is not None:
            # The messages of these chats are read from the last run's cursor.
            self._chats_cursor = previous
            inbox = inbox_chats(
                client, *self._inbox(), table, set(held), fresh, gone, self._summary_only
            )
            async for batch in inbox:
                yield batch
            if self._inbox_only:
                state["held"] = encode_ids([*(i for i in held if i not in gone), *fresh])
                self._spent("chats")
                return
        high = await chats_high_water(client.chats)
        cursor = next_cursor(high, client.chats.server_time, previous)
        self._chats_cursor = cursor if cursor is not None else 0
        scan: AsyncIterator[Any]
        if since is None:
            self._report.full_reads.add("chats")
            scan = client.chats.iter_all(sort="chats.createdAt", order="asc")
        else:
            scan = iter_changed_chats(
                client.chats,
                since=int(since),
                after_id=None if after_id is None else int(after_id),
                overlap=self._overlap,
            )
        seen: array[int] = array("q")
        moved = after(since, chat_times, lambda: client.chats.server_time)

        def changed(chat: Any) -> bool:
            # Found by the scan too: its messages are read after all.
            self._summary_only.discard(chat.id)
            return moved(chat)

        skip = (fresh - self._summary_only) | gone
        async for batch in self._batches(table, scan, set(held), seen, changed, skip=skip):
            yield batch
        now_held = encode_ids([*(i for i in held if i not in gone), *seen, *fresh])
        chats = len(decode_ids(now_held))
        self._report.totals["chats"] = chats
        # At least a page per 100 chats, and a request per chat for its messages.
        self._report.full_pass_requests["chats"] = -(-chats // 100) + chats
        state["held"] = now_held
        state["since"] = self._chats_cursor
        previous_id = [] if after_id is None else [int(after_id)]
        state["after_id"] = max([*seen, *previous_id], default=None)
        self._spent("chats")

    async def messages(self, chats: list[dict[str, Any]]) -> Batches:
        """Yield the messages of the chats in one page of ``chats`` created since the last run."""
        client = await self._shared.get()
        state = dlt.current.resource_state()
        table = self._report.table("messages")
        if self._messages_since is None:
            # Once per run: the messages older than the last run's chat cursor are held.
            self._messages_since = (None if self._full else state.get("since"),)
        (previous,) = self._messages_since
        state["since"] = self._chats_cursor
        cutoff = None if previous is None else scan_from(int(previous), self._overlap)
        ids = [c["id"] for c in chats if not c.get(DELETED_COLUMN)]
        ids = [i for i in ids if i not in self._summary_only]
        batch: list[dict[str, Any]] = []
        async for _, messages in iter_new_messages(client.chats, ids, since=cutoff):
            batch.extend(record(message) for message in messages)
            # Created after the last run's cursor: new; else read again in the overlap.
            fresh = sum(1 for m in messages if created_after(m, previous))
            table.new += fresh
            table.reread += len(messages) - fresh
            if len(batch) >= BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
        self._spent("messages" if "chats" in self._report.finished else None)

    async def agents(self) -> Batches:
        """Yield every agent, every run; the ones gone become hard deletes."""
        client = await self._shared.get()
        async for batch in self._whole("agents", client.agents.iter_all()):
            yield batch

    async def departments(self) -> Batches:
        """Yield every department, every run; the ones gone become hard deletes."""
        client = await self._shared.get()
        async for batch in self._whole("departments", client.departments.iter_all()):
            yield batch

    async def _whole(self, name: str, scan: AsyncIterator[Any]) -> Batches:
        state = dlt.current.resource_state()
        table = self._report.table(name)
        held = held_ids(state)
        # A digest of each row of the last run (a few rows): changed means it differs.
        before: dict[str, str] = dict(state.get("digests") or {})
        after: dict[str, str] = {}
        seen: array[int] = array("q")

        def differs(item: Any) -> bool:
            now = after[str(item.id)] = digest(item)
            return before.get(str(item.id)) != now

        async for batch in self._batches(table, scan, set(held), seen, differs):
            yield batch
        seen_set = set(seen)
        gone = [i for i in held if i not in seen_set]
        if gone:
            table.deleted += len(gone)
            yield deleted(gone)
        state["held"] = encode_ids(seen)
        state["digests"] = after
        self._spent(name)
