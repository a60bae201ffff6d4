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
header). The report counts a held row as changed only with a sign of change
(see `TableReport`); otherwise it is re-read.
- ``agents``, ``departments``: read whole every run (a few pages); the ids no
  longer there become hard deletes.

Records leave as dicts made by ``msgspec.to_builtins`` from our Structs at the
last moment (dlt's normaliser takes dicts, not msgspec Structs), with the
API's field names, which dlt turns into snake_case columns. Nested values
(tags, custom data, location, device, a chat's customer and agents) are kept
as JSON columns (``max_table_nesting=0``), which every destination can hold
and which lets hard deletes work on destinations without nested-table deletes.

What no request can see: an edit that moves no documented timestamp (a name or
custom data changed by an agent or another integration), a deleted chat, and an
edited old message. ``full=True`` refreshes everything.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from array import array
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import dlt
import msgspec

from helpcrunch_async._core.held import decode_ids, encode_ids
from helpcrunch_async._core.params import (
    DEFAULT_BUDGET_KEY,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_PERIOD,
)
from helpcrunch_async._core.reconcile import next_cursor
from helpcrunch_async._models.agents import Agent, Department
from helpcrunch_async._models.chats import Chat
from helpcrunch_async._models.customers import Customer
from helpcrunch_async._models.messages import Message
from helpcrunch_async._resources.changes import (
    DEFAULT_OVERLAP,
    chats_high_water,
    customers_high_water,
    iter_changed_chats,
    iter_changed_customers,
    iter_new_messages,
    reconcile_ids,
)
from helpcrunch_async.dlt._session import SharedClient, local_budget

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

    from dlt.extract.source import DltSource

    from helpcrunch_async._shell.budget import RateBudget

__all__ = ["DELETED_COLUMN", "RESOURCES", "SyncReport", "TableReport", "helpcrunch_source"]

logger = logging.getLogger("helpcrunch_async")

RESOURCES = ("customers", "chats", "messages", "agents", "departments")
# The column that dlt's hard_delete hint reads: true deletes the row with this id.
DELETED_COLUMN = "_hc_deleted"
# Records per item handed to dlt: each item crosses from dlt's loop thread to
# its main thread, so pages, not single records.
_BATCH = 500
_Batches: TypeAlias = "AsyncIterator[list[dict[str, Any]]]"
_COLUMNS: dict[str, Any] = {DELETED_COLUMN: {"data_type": "bool", "hard_delete": True}}


@dataclass
class TableReport:
    """What one run did to one table: rows new, changed, re-read and deleted.

    ``changed`` counts rows held before whose content moved: for customers a
    ``lastSeen`` after the last run's cursor, for chats a timestamp after it,
    for agents and departments fields that differ from the last run's. A row
    held before that a run reads again without such a sign (the overlap of
    the cursors, a full pass) is ``reread``: loaded again, not known changed.
    """

    new: int = 0
    changed: int = 0
    reread: int = 0
    deleted: int = 0


@dataclass
class SyncReport:
    """What one run did: per table, the requests it spent, and what a full pass would cost."""

    tables: dict[str, TableReport] = field(default_factory=dict)
    requests: int = 0
    # Requests a full read of the customers would need now (from the ids held).
    full_pass_requests: dict[str, int] = field(default_factory=dict)
    # Records the server has, per table, where known (a full read's total; the ids held).
    totals: dict[str, int] = field(default_factory=dict)
    # Tables read whole in this run (first run, or full=True).
    full_reads: set[str] = field(default_factory=set)
    # Requests spent so far, read live (the run's one client counts them).
    live_requests: Callable[[], int] | None = None
    # The tables the run reads, and those whose reads are over.
    expected: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)

    def spent(self) -> int:
        """Return the requests spent so far (live while the run reads)."""
        return self.live_requests() if self.live_requests is not None else self.requests

    def table(self, name: str) -> TableReport:
        """Return the report of ``name``, created on first use."""
        return self.tables.setdefault(name, TableReport())


def _columns(model: type[msgspec.Struct]) -> dict[str, Any]:
    """Return dlt column hints for ``model``'s fields, so every column has its type at once.

    Without them dlt infers types from the first values and leaves out a
    column that only ever held null (and warns). Timestamps are declared as
    their wire unions at run time (see the models) but always hold int.
    """
    hints: dict[str, Any] = dict(_COLUMNS)
    info = msgspec.inspect.type_info(model)
    assert isinstance(info, msgspec.inspect.StructType)  # noqa: S101 -- a Struct by type
    for f in info.fields:
        hints[f.encode_name] = {"data_type": _data_type(f.type), "nullable": f.name != "id"}
    return hints


def _data_type(kind: msgspec.inspect.Type) -> str:
    kinds = kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,)
    real = [k for k in kinds if not isinstance(k, msgspec.inspect.NoneType)]
    simple = {
        msgspec.inspect.IntType: "bigint",
        msgspec.inspect.BoolType: "bool",
        msgspec.inspect.StrType: "text",
        msgspec.inspect.FloatType: "double",
    }
    found = {simple.get(type(k), "json") for k in real}
    if found in ({"bigint", "double", "text"}, {"bigint", "double"}):
        return "bigint"  # a timestamp: normalised to int seconds
    return found.pop() if len(found) == 1 else "json"


def _record(item: msgspec.Struct) -> dict[str, Any]:
    record: dict[str, Any] = msgspec.to_builtins(item)
    return record


def _deleted(ids: Iterable[int]) -> list[dict[str, Any]]:
    return [{"id": i, DELETED_COLUMN: True} for i in ids]


def _held(state: dict[str, Any]) -> array[int]:
    blob = state.get("held")
    return decode_ids(blob) if isinstance(blob, bytes) else array("q")


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
    """
    key = api_key
    if key is None:
        import os  # noqa: PLC0415 -- only for the fallback

        key = os.environ.get("HELPCRUNCH_API_KEY") or dlt.secrets.get(
            "sources.helpcrunch.api_key", str
        )
    make_budget: Callable[[], RateBudget]
    if redis_url is not None:
        from helpcrunch_async._redis.budget import RedisBudget  # noqa: PLC0415 -- optional: needs redis

        url = redis_url

        # RedisBudget's default number of processes sharing the key, but no
        # more than the limit: each keeps at least one request a period when
        # Redis is away, and a cap below that default is not refused.
        default = inspect.signature(RedisBudget).parameters["fallback_workers"].default
        workers = min(int(default), rate_limit)

        def make_budget() -> RateBudget:
            return RedisBudget(
                url, redis_key, limit=rate_limit, period=rate_period, fallback_workers=workers
            )

    else:
        make_budget = local_budget(rate_limit, rate_period)
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
    resources = _Resources(shared, run, overlap=overlap, full=full, concurrency=concurrency)

    source: DltSource = _source(resources)
    return source


def _source(resources: _Resources) -> DltSource:
    @dlt.source(name="helpcrunch", max_table_nesting=0)
    def helpcrunch() -> Any:
        merge: dict[str, Any] = {"primary_key": "id", "write_disposition": "merge"}
        chats = dlt.resource(_plain(resources.chats), name="chats", columns=_columns(Chat), **merge)
        return [
            dlt.resource(
                _plain(resources.customers), name="customers", columns=_columns(Customer), **merge
            ),
            chats,
            dlt.transformer(
                _per_item(resources.messages),
                name="messages",
                data_from=chats,
                columns=_columns(Message),
                **merge,
            ),
            dlt.resource(_plain(resources.agents), name="agents", columns=_columns(Agent), **merge),
            dlt.resource(
                _plain(resources.departments),
                name="departments",
                columns=_columns(Department),
                **merge,
            ),
        ]

    source: DltSource = helpcrunch()
    return source


def _plain(method: Callable[[], _Batches]) -> Callable[[], _Batches]:
    # dlt tags the function it is given, which a bound method cannot take.
    async def resource() -> _Batches:
        async for batch in method():
            yield batch

    return resource


def _per_item(
    method: Callable[[list[dict[str, Any]]], _Batches],
) -> Callable[[list[dict[str, Any]]], _Batches]:
    async def transformer(page: list[dict[str, Any]]) -> _Batches:
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
    ) -> None:
        self._shared = shared
        self._report = report
        self._overlap = overlap
        self._full = full
        self._concurrency = concurrency
        # The chats' cursor of this run, for the messages (set before chats yields).
        self._chats_cursor: int | None = None
        self._messages_since: tuple[int | None] | None = None

    def _spent(self, finished: str | None = None) -> None:
        self._report.requests = self._shared.requests
        if finished is not None:
            self._report.finished.add(finished)

    async def customers(self) -> _Batches:
        """Yield every customer at first; then deletions (by counting) and what changed."""
        client = await self._shared.get()
        state = dlt.current.resource_state()
        table = self._report.table("customers")
        held = _held(state)
        since = None if self._full else state.get("since")
        after_id = state.get("after_id")
        if since is None:
            self._report.full_reads.add("customers")
        # The server's clock when the scan starts: the next run's cursor.
        low = None if since is None else int(since) - self._overlap
        high = await customers_high_water(client.customers, since=low)
        cursor = next_cursor(
            high, client.customers.server_time, None if since is None else int(since)
        )
        gone: set[int] = set()
        scan: AsyncIterator[Any]
        if since is None:
            scan = client.customers.iter_all(sort="customers.firstSeen", order="asc")
        else:
            found = await reconcile_ids(client.customers, held)
            gone = set(found.deleted)
            if gone:
                table.deleted += len(gone)
                yield _deleted(found.deleted)
            scan = _chain(
                iter_changed_customers(
                    client.customers,
                    since=int(since),
                    after_id=int(after_id) if after_id is not None else None,
                    overlap=self._overlap,
                ),
                # Customers inside the held range that were never held (see reconcile).
                _each(client.customers.get, found.unknown),
            )
        seen: array[int] = array("q")
        moved = _after(since, _customer_times, lambda: client.customers.server_time)
        async for batch in self._batches(table, scan, set(held), seen, moved, skip=gone):
            yield batch
        if since is None and held:
            # A full pass: what we held and did not see is gone.
            seen_set = set(seen)
            gone = {i for i in held if i not in seen_set}
            if gone:
                table.deleted += len(gone)
                yield _deleted(sorted(gone))
        kept = [i for i in held if i not in gone] if since is not None else []
        now_held = encode_ids([*kept, *seen])
        # What a full pass would cost now, without a request to count them.
        total = len(decode_ids(now_held))
        self._report.totals["customers"] = total
        self._report.full_pass_requests["customers"] = max(1, -(-total // 100))
        state["held"] = now_held
        state["since"] = cursor if cursor is not None else 0
        # Ids only grow: the highest ever held, even if that customer is gone.
        previous = [int(after_id)] if after_id is not None else []
        state["after_id"] = max([*seen, *kept[-1:], *previous], default=None)
        self._spent("customers")

    async def _batches(
        self,
        table: TableReport,
        scan: AsyncIterator[Any],
        held: set[int],
        seen: array[int],
        changed: Callable[[Any], bool],
        *,
        skip: set[int] | frozenset[int] = frozenset(),
    ) -> _Batches:
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
            batch.append(_record(item))
            if len(batch) >= _BATCH:
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

    async def chats(self) -> _Batches:
        """Yield every chat at first; then the chats updated or created since the last run."""
        client = await self._shared.get()
        state = dlt.current.resource_state()
        table = self._report.table("chats")
        held = _held(state)
        since = None if self._full else state.get("since")
        high = await chats_high_water(client.chats)
        previous = None if since is None else int(since)
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
                after_id=held[-1] if held else None,
                overlap=self._overlap,
            )
        seen: array[int] = array("q")
        moved = _after(since, _chat_times, lambda: client.chats.server_time)
        async for batch in self._batches(table, scan, set(held), seen, moved):
            yield batch
        now_held = encode_ids([*held, *seen])
        chats = len(decode_ids(now_held))
        self._report.totals["chats"] = chats
        # At least a page per 100 chats, and a request per chat for its messages.
        self._report.full_pass_requests["chats"] = -(-chats // 100) + chats
        state["held"] = now_held
        state["since"] = self._chats_cursor
        self._spent("chats")

    async def messages(self, chats: list[dict[str, Any]]) -> _Batches:
        """Yield the messages of the chats in one page of ``chats`` created since the last run."""
        client = await self._shared.get()
        state = dlt.current.resource_state()
        table = self._report.table("messages")
        if self._messages_since is None:
            # Once per run: the messages older than the last run's chat cursor are held.
            self._messages_since = (None if self._full else state.get("since"),)
        (previous,) = self._messages_since
        state["since"] = self._chats_cursor
        cutoff = None if previous is None else int(previous) - self._overlap
        ids = [c["id"] for c in chats if not c.get(DELETED_COLUMN)]
        batch: list[dict[str, Any]] = []
        async for _, messages in iter_new_messages(client.chats, ids, since=cutoff):
            batch.extend(_record(message) for message in messages)
            # Created after the last run's cursor: new; else read again in the overlap.
            fresh = sum(1 for m in messages if _created_after(m, previous))
            table.new += fresh
            table.reread += len(messages) - fresh
            if len(batch) >= _BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
        self._spent("messages" if "chats" in self._report.finished else None)

    async def agents(self) -> _Batches:
        """Yield every agent, every run; the ones gone become hard deletes."""
        client = await self._shared.get()
        async for batch in self._whole("agents", client.agents.iter_all()):
            yield batch

    async def departments(self) -> _Batches:
        """Yield every department, every run; the ones gone become hard deletes."""
        client = await self._shared.get()
        async for batch in self._whole("departments", client.departments.iter_all()):
            yield batch

    async def _whole(self, name: str, scan: AsyncIterator[Any]) -> _Batches:
        state = dlt.current.resource_state()
        table = self._report.table(name)
        held = _held(state)
        # A digest of each row of the last run (a few rows): changed means it differs.
        before: dict[str, str] = dict(state.get("digests") or {})
        after: dict[str, str] = {}
        seen: array[int] = array("q")

        def differs(item: Any) -> bool:
            digest = after[str(item.id)] = _digest(item)
            return before.get(str(item.id)) != digest

        async for batch in self._batches(table, scan, set(held), seen, differs):
            yield batch
        seen_set = set(seen)
        gone = [i for i in held if i not in seen_set]
        if gone:
            table.deleted += len(gone)
            yield _deleted(gone)
        state["held"] = encode_ids(seen)
        state["digests"] = after
        self._spent(name)


def _digest(item: msgspec.Struct) -> str:
    return hashlib.blake2b(msgspec.json.encode(item), digest_size=8).hexdigest()


def _created_after(message: Message, since: object) -> bool:
    created = message.created_at
    return since is None or created is None or created > int(str(since))


def _customer_times(customer: Customer) -> tuple[int | None, ...]:
    return (customer.last_seen,)


def _chat_times(chat: Chat) -> tuple[int | None, ...]:
    return (chat.updated_at, chat.last_message_at, chat.closed_at, chat.created_at)


def _after(
    since: object,
    times: Callable[[Any], tuple[int | None, ...]],
    present: Callable[[], int | None],
) -> Callable[[Any], bool]:
    """Return whether a record's timestamps moved past the last run's cursor ``since``.

    A timestamp past the server's ``present`` (its latest ``Date``) is no sign
    of a change: a record stamped in the future is re-read every run.
    """
    if since is None:
        # A full pass: nothing to compare with, so a held row is re-read.
        return lambda _: False
    cursor = int(str(since))

    def moved(item: Any) -> bool:
        now = present()
        return any(t is not None and cursor < t and (now is None or t <= now) for t in times(item))

    return moved


async def _chain(*scans: AsyncIterator[Any]) -> AsyncIterator[Any]:
    for scan in scans:
        async for item in scan:
            yield item


async def _each(get: Callable[[int], Awaitable[Any]], ids: Iterable[int]) -> AsyncIterator[Any]:
    from helpcrunch_async._errors import NotFoundError  # noqa: PLC0415 -- rare path

    for i in ids:
        try:
            yield await get(i)
        except NotFoundError:
            continue
