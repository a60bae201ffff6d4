"""What changed since a sync: counts, change scans, deletions, new messages.

Shell glue over the pure plans of `_sync.plan`, `_core.reconcile` and `_core.new_messages`.
Each function takes the resource object (``client.customers`` or
``client.chats``), named by the protocols of `_sync.readable` so that this
module imports no resource; the resources delegate their ``count``,
``iter_changed`` and ``find_deleted`` methods here. The deletion count and the new-messages read run
on the scan engine (`_shell.engine.Engine`) with the client's concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from helpcrunch_async._core.filters import Filter
from helpcrunch_async._core.idset import IdSet
from helpcrunch_async._core.new_messages import MessageFetch, NewMessagesPlan, Released
from helpcrunch_async._core.paging import PageResult
from helpcrunch_async._core.params import KEYS_PER_SEARCH, check_positive_int
from helpcrunch_async._core.reconcile import (
    READ_SIZE,
    CountRange,
    DeletionPlan,
    Keyset,
    ReadRange,
)
from helpcrunch_async._errors import (
    DecodeError,
    IncompleteScanError,
    InvalidParameterError,
    NotFoundError,
)
from helpcrunch_async._models.messages import Message, decode_messages_page
from helpcrunch_async._shell.engine import Engine
from helpcrunch_async._shell.stats import ScanStats
from helpcrunch_async._shell.stream import StreamScan
from helpcrunch_async._sync.plan import chat_change_searches, customer_change_searches

if TYPE_CHECKING:
    from collections.abc import (
        AsyncGenerator,
        AsyncIterator,
        Awaitable,
        Callable,
        Coroutine,
        Sequence,
    )

    from helpcrunch_async._core.filters import Operator
    from helpcrunch_async._core.params import ChatSort, Order, Sort
    from helpcrunch_async._models.chats import Chat
    from helpcrunch_async._models.customers import Customer
    from helpcrunch_async._sync.readable import ReadableChats, ReadableCustomers

__all__ = [
    "DEFAULT_OVERLAP",
    "IdList",
    "Reconciled",
    "chats_high_water",
    "count_customers",
    "customers_high_water",
    "find_deleted",
    "iter_changed_chats",
    "iter_changed_customers",
    "iter_new_messages",
    "read_chats_by_id",
    "read_chats_of_customers",
    "read_customer_ranges",
    "read_customers_by_id",
    "reconcile_ids",
]

logger = logging.getLogger("helpcrunch_async")

# The sorted ids `find_deleted` returns (a name the resources can use: their
# own ``list`` method shadows the builtin in their class bodies).
IdList: TypeAlias = list[int]

# Seconds subtracted from ``since``: clock skew between us and the server, and
# visits still being recorded when the last sync started.
DEFAULT_OVERLAP = 300


def _filter(field: str, operator: str, value: int) -> Filter:
    # The plans name operators as plain strings; Filter checks them again.
    return Filter(field, cast("Operator", operator), value)


async def count_customers(customers: ReadableCustomers, where: Sequence[Any] | None = None) -> int:
    """Return how many customers match ``where`` (all of them if None), in one request."""
    if where is None:
        page = await customers.list(offset=0, limit=1)
    else:
        page = await customers.search(list(where), offset=0, limit=1)
    return _total(page)


def _total(page: Any) -> int:
    total = page.total
    if total is None:
        raise DecodeError("the server sent no total for a search; cannot count")
    return int(total)


async def customers_high_water(
    customers: ReadableCustomers, *, since: int | None = None
) -> int | None:
    """Return the highest ``lastSeen`` on the server (at or above ``since``), in one request.

    This is the server's clock, not ours: the cursor of the next sync. With no
    ``since``, ``GET /customers`` sorted by ``lastSeen`` descending answers,
    unless it puts customers never seen first (then a search does: two requests).
    """
    if since is None:
        top = await customers.list(offset=0, limit=1, sort="customers.lastSeen", order="desc")
        if not top.data or top.data[0].last_seen is not None:
            return top.data[0].last_seen if top.data else None
        since = 0
    where = [_filter("customers.lastSeen", ">=", max(since, 0))]
    page = await customers.search(where, sort="customers.lastSeen", order="desc", limit=1)
    return page.data[0].last_seen if page.data else None


async def chats_high_water(chats: ReadableChats) -> int | None:
    """Return the latest chat timestamp the server has (created, last message, closed).

    Two requests. It is at most the server's "now", which is all a cursor
    needs: an early cursor reads a few chats twice, a late one would lose some.
    """
    found: list[int] = []
    sorts: tuple[tuple[ChatSort, str], ...] = (
        ("chats.lastMessageAt", "last_message_at"),
        ("chats.closedAt", "closed_at"),
    )
    for sort, attribute in sorts:
        page = await chats.list(offset=0, limit=1, sort=sort, order="desc")
        for chat in page.data:
            value = getattr(chat, attribute)
            if isinstance(value, int):
                found.append(value)
            if isinstance(chat.created_at, int):
                found.append(chat.created_at)
    return max(found, default=None)


def _check_changes(since: int, after_id: int | None, overlap: int) -> None:
    if isinstance(since, bool) or not isinstance(since, int) or since < 0:
        raise InvalidParameterError(f"since must be a unix timestamp (int >= 0), got {since!r}")
    if after_id is not None:
        check_positive_int("after_id", after_id)
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        raise InvalidParameterError(f"overlap must be an int of seconds >= 0, got {overlap!r}")


def iter_changed_customers(
    customers: ReadableCustomers,
    since: int,
    after_id: int | None = None,
    *,
    overlap: int = DEFAULT_OVERLAP,
) -> StreamScan[Customer]:
    """Return a scan of each customer seen since ``since - overlap`` or above ``after_id``, once.

    The promise: every customer whose ``lastSeen`` was at or after ``since -
    overlap`` when the call began, or whose id is above ``after_id``, is
    yielded by this call, once, however often it visits while the call runs.
    See `customer_change_searches` for the searches. The ``lastSeen`` search
    is read a page at a time by key (`Keyset`), not by offsets, with no upper
    bound: a visit moves a customer to the end of that order, where the scan
    still finds it. The ``id`` search uses the scan engine. Both read servers
    that serve fewer a page than asked for. The requests go through the
    client's one cap and its retries, and are counted into the scan's
    ``stats`` (those of the ``id`` search once it ends). Arguments are checked
    here, before any request; close the scan (``async with``, ``aclose``) to
    stop early.
    """
    _check_changes(since, after_id, overlap)
    return StreamScan(lambda stats: _changed_customers(customers, since, after_id, overlap, stats))


async def _changed_customers(
    customers: ReadableCustomers, since: int, after_id: int | None, overlap: int, stats: ScanStats
) -> AsyncGenerator[Customer, None]:
    seen = IdSet()
    for search in customer_change_searches(since=since, after_id=after_id, overlap=overlap):
        where = [_filter(*f) for f in search.filters]
        if search.sort == "customers.lastSeen":
            # Visits move customers to the end of this order while it is read: by key.
            async def page(where: list[Filter], offset: int) -> Any:
                return await customers.search(
                    where,
                    sort="customers.lastSeen",
                    order="asc",
                    offset=offset,
                    limit=READ_SIZE,
                    stats=stats,
                )

            found = _by_key(page, where, "customers.lastSeen", _last_seen, stats)
            async with contextlib.aclosing(found) as items:
                async for customer in items:
                    if seen.add(customer.id):
                        yield customer
            continue
        # New ids only join the end of the firstSeen order: the scan engine.
        async with customers.iter_search(
            where,
            comparison="AND",
            sort=cast("Sort", search.sort),
            order=cast("Order", search.order),
        ) as scan:
            try:
                async for customer in scan:
                    if seen.add(customer.id):
                        yield customer
            finally:
                stats.add_costs_of(scan.stats)


def _last_seen(customer: Customer) -> int | None:
    return customer.last_seen


def _created_at(chat: Chat) -> int | None:
    return chat.created_at


async def _by_key(
    page: Callable[[list[Filter], int], Awaitable[Any]],
    where: list[Filter],
    field: str,
    key: Callable[[Any], int | None],
    stats: ScanStats,
) -> AsyncGenerator[Any, None]:
    # One request per page, each starting at the last sort value read (`Keyset`).
    plan = Keyset(READ_SIZE)
    while not plan.done:
        cursor = [] if plan.value is None else [_filter(field, ">=", plan.value)]
        answer = await page([*where, *cursor], plan.skip)
        stats.pages += 1
        for item in answer.data:
            yield item
        plan.page_read([key(item) for item in answer.data], _total(answer))
    if plan.shortfall:
        raise IncompleteScanError(
            f"the search on {field} stopped short: an empty page at offset {plan.skip} "
            "where its total counts more",
            missing=0,
            at_offset=plan.skip,
            total=None,
        )


@dataclass(frozen=True, slots=True)
class Reconciled:
    """The outcome of a deletion check: ids gone, ids found that were not held, requests spent."""

    deleted: list[int]
    unknown: list[int]
    requests: int


async def reconcile_ids(
    customers: ReadableCustomers, known_ids: Iterable[int], *, concurrency: int | None = None
) -> Reconciled:
    """Count id ranges until the held ids that are gone are known (see `DeletionPlan`).

    The counts run on the scan engine, at most ``concurrency`` at once (the
    client's when None). A range is read only when a page holds all of it:
    on a server that serves fewer a page than asked for, a short page is
    counted and split, never read as "the rest is gone".
    """
    if isinstance(known_ids, (str, bytes)) or not isinstance(known_ids, Iterable):
        raise InvalidParameterError(
            f"known_ids must be an iterable of customer ids, got {type(known_ids).__name__}"
        )
    ids = [check_positive_int("each of known_ids", i) for i in known_ids]
    plan = DeletionPlan(ids, read_size=READ_SIZE)
    async with _Counting(customers, plan, concurrency=customers.workers(concurrency)) as scan:
        async for _ in scan:
            pass
    if plan.unknown:
        logger.warning(
            "%d customers exist inside the held id range that were never held", len(plan.unknown)
        )
    return Reconciled(plan.deleted, plan.unknown, plan.requests)


class _Counting(Engine[CountRange | ReadRange, None, int]):
    """The deletion count's requests on the scan engine: counts and reads of id ranges."""

    def __init__(
        self, customers: ReadableCustomers, plan: DeletionPlan, *, concurrency: int
    ) -> None:
        super().__init__(plan, concurrency=concurrency, stats=ScanStats())
        self._customers = customers

    def _request(self, fetch: CountRange | ReadRange) -> Coroutine[Any, Any, PageResult[int]]:
        return self._answer(fetch)

    async def _answer(self, ask: CountRange | ReadRange) -> PageResult[int]:
        where = [_filter("customers.id", ">=", ask.lo), _filter("customers.id", "<", ask.hi)]
        limit = 1 if isinstance(ask, CountRange) else READ_SIZE
        page = await self._customers.search(where, offset=0, limit=limit)
        total = _total(page)
        if total > ask.hi - ask.lo:
            # Ids are distinct integers: more of them than the range holds is a
            # count that cannot be true, and splitting on it would never end.
            raise IncompleteScanError(
                f"cannot check for deletions: the server counts {total} customers with an id "
                f"in [{ask.lo}, {ask.hi}), which holds at most {ask.hi - ask.lo}",
                missing=0,
                at_offset=0,
                total=total,
            )
        ids = [c.id for c in page.data] if isinstance(ask, ReadRange) else []
        if isinstance(ask, ReadRange) and total and not ids:
            raise IncompleteScanError(
                f"cannot check for deletions: the server counts {total} customers with an id "
                f"in [{ask.lo}, {ask.hi}) and serves none of them",
                missing=total,
                at_offset=0,
                total=total,
            )
        return PageResult(ids, total)

    def _deliver(self, released: None) -> list[int]:  # noqa: ARG002 -- the plan releases nothing
        return []

    def _rank(self, fetch: CountRange | ReadRange) -> tuple[int, ...]:
        return (fetch.lo,)


async def find_deleted(customers: ReadableCustomers, known_ids: Iterable[int]) -> IdList:
    """Return which of ``known_ids`` the server no longer has, sorted, by counting id ranges."""
    return (await reconcile_ids(customers, known_ids)).deleted


def iter_changed_chats(
    chats: ReadableChats,
    since: int,
    after_id: int | None = None,
    *,
    overlap: int = DEFAULT_OVERLAP,
) -> StreamScan[Chat]:
    """Return a scan of every chat updated or created since ``since - overlap``, once.

    Chat ids cannot be searched; ``after_id``, when given, also yields the
    chats above it from the newest end of ``GET /chats`` (sorted by
    ``createdAt`` descending, read a page at a time until an id at or below
    ``after_id``), which catches new chats whatever their timestamps say.
    The searches are read by key (`Keyset` on ``createdAt``): updates bring
    chats into the ``updatedAt`` set while it is read. Every request is
    counted into the scan's ``stats``. Arguments are checked here, before any
    request; close the scan (``async with``, ``aclose``) to stop early.
    """
    _check_changes(since, after_id, overlap)
    return StreamScan(lambda stats: _changed_chats(chats, since, after_id, overlap, stats))


async def _changed_chats(
    chats: ReadableChats, since: int, after_id: int | None, overlap: int, stats: ScanStats
) -> AsyncGenerator[Chat, None]:
    seen = IdSet()
    for search in chat_change_searches(since=since, overlap=overlap):
        where = [_filter(*f) for f in search.filters]

        # Updates bring chats into the set while it is read: page by createdAt.
        async def search_page(where: list[Filter], offset: int) -> Any:
            return await chats.search(
                where,
                sort="chats.createdAt",
                order="asc",
                offset=offset,
                limit=READ_SIZE,
                stats=stats,
            )

        found = _by_key(search_page, where, "chats.createdAt", _created_at, stats)
        async with contextlib.aclosing(found) as items:
            async for chat in items:
                if seen.add(chat.id):
                    yield chat
    if after_id is not None:
        async with contextlib.aclosing(_newest_chats(chats, after_id, stats)) as items:
            async for chat in items:
                if seen.add(chat.id):
                    yield chat


async def _newest_chats(
    chats: ReadableChats, after_id: int, stats: ScanStats
) -> AsyncGenerator[Chat, None]:
    # Chat ids cannot be searched: the newest end of GET /chats, a page at a
    # time. The next page starts after what the server served (it may serve
    # fewer than asked for); only the total, an empty page or an old id ends it.
    offset = 0
    while True:
        page = await chats.list(
            offset=offset, limit=READ_SIZE, sort="chats.createdAt", order="desc", stats=stats
        )
        stats.pages += 1
        for chat in page.data:
            if chat.id <= after_id:
                return
            yield chat
        offset += len(page.data)
        if not page.data or offset >= page.total:
            return


def iter_new_messages(
    chats: ReadableChats,
    chat_ids: Sequence[int],
    *,
    since: int | None,
    concurrency: int | None = None,
) -> AsyncIterator[tuple[int, list[Message]]]:
    """Yield ``(chat_id, messages)`` per chat, in order: its messages created at ``since`` or later.

    Whatever order the server lists a chat's messages in (newest first, as
    documented, or oldest first), the read learns it from the messages and
    reads only the pages that can hold new ones; with no provable order it
    reads the whole chat (see `_core.new_messages`). A chat with a few new
    messages costs one request (two when they are listed oldest first).
    ``since=None`` reads every message. A chat gone meanwhile (404) yields an
    empty list. The reads run on the scan engine, at most ``concurrency``
    requests at once (the client's when None).
    """
    workers = chats.workers(concurrency)
    plan: NewMessagesPlan[Message] = NewMessagesPlan(
        list(chat_ids), since, _message_created, lookahead=2 * workers
    )
    return _NewMessages(chats, plan, concurrency=workers)


def _message_created(message: Message) -> int | None:
    return message.created_at


class _NewMessages(Engine[MessageFetch, Released[Message], Any]):
    """The new messages of many chats on the scan engine: one item per chat."""

    _noun = "messages"

    def __init__(
        self, chats: ReadableChats, plan: NewMessagesPlan[Message], *, concurrency: int
    ) -> None:
        super().__init__(plan, concurrency=concurrency, stats=ScanStats())
        self._chats = chats
        self._messages = plan

    # Pages hold messages and the scan yields (chat, messages): Any covers both.
    def _request(self, fetch: MessageFetch) -> Coroutine[Any, Any, PageResult[Any]]:
        return self._answer(fetch)

    async def _answer(self, fetch: MessageFetch) -> PageResult[Any]:
        window = {"offset": fetch.offset, "limit": fetch.limit}
        path = f"/chats/{fetch.chat}/messages"
        page = await self._chats.page("GET", path, window, decode_messages_page, self.stats)
        return PageResult(page.data, page.total)

    def _absorb(self, fetch: MessageFetch, error: BaseException) -> bool:
        if not isinstance(error, NotFoundError):
            return False
        self._messages.gone(fetch)
        return True

    def _deliver(self, released: Released[Message]) -> list[Any]:
        if released.shortfall:
            self._fail(
                IncompleteScanError(
                    f"chat {released.chat}: its messages stopped short of the total it counts",
                    missing=0,
                    at_offset=0,
                    total=None,
                )
            )
            return []
        # Messages written meanwhile shift offsets: a message read twice goes once.
        ids = IdSet()
        fresh = [m for m in released.messages if ids.add(m.id)]
        self.stats.customers += len(fresh)
        return [(released.chat, fresh)]

    def _rank(self, fetch: MessageFetch) -> tuple[int, ...]:
        return (fetch.index, fetch.offset)


async def read_customers_by_id(
    customers: ReadableCustomers, ids: Sequence[int]
) -> tuple[list[Customer], list[int]]:
    """Return the customers with these ids, read whole, and the ids the server no longer has.

    Many ids a request: `Customers.lookup` joins them with OR in one search.
    """
    if not ids:
        return [], []
    found = await customers.lookup("id", ids)
    present = [matches[0] for matches in found.values() if matches]
    missing = sorted(int(key) for key, matches in found.items() if not matches)
    return present, missing


async def read_chats_by_id(
    chats: ReadableChats, ids: Sequence[int], *, concurrency: int | None = None
) -> AsyncIterator[Chat | int]:
    """Yield each chat with these ids read whole, in order; a chat gone (404) as its bare id.

    Chat ids cannot be searched: one ``GET /chats/{id}`` each, at most
    ``concurrency`` at once (the client's when None).
    """
    workers = chats.workers(concurrency)
    for start in range(0, len(ids), workers):
        chunk = ids[start : start + workers]
        answers = await asyncio.gather(*(_chat_or_gone(chats, i) for i in chunk))
        for answer in answers:
            yield answer


async def _chat_or_gone(chats: ReadableChats, chat_id: int) -> Chat | int:
    try:
        return await chats.get(chat_id)
    except NotFoundError:
        return chat_id


async def read_customer_ranges(
    customers: ReadableCustomers, ranges: Sequence[tuple[int, int]]
) -> AsyncIterator[Customer]:
    """Yield every customer whose id is in one of the inclusive ``ranges`` (the refresh slice)."""
    for lo, hi in ranges:
        where = [_filter("customers.id", ">=", lo), _filter("customers.id", "<=", hi)]
        async with customers.iter_search(where, comparison="AND") as scan:
            async for customer in scan:
                yield customer


async def read_chats_of_customers(
    chats: ReadableChats, customer_ids: Sequence[int]
) -> AsyncIterator[Chat]:
    """Yield every chat of these customers: a chat carries its customer's name and email.

    As many ids a search as `Customers.lookup` joins, with OR on
    ``chats.customer``, each read to its total (pages of what the server serves).
    """
    per_search = KEYS_PER_SEARCH
    for start in range(0, len(customer_ids), per_search):
        chunk = customer_ids[start : start + per_search]
        where = [Filter("chats.customer", "=", i) for i in chunk]
        offset = 0
        while True:
            page = await chats.search(where, comparison="OR", offset=offset, limit=READ_SIZE)
            for chat in page.data:
                yield chat
            offset += len(page.data)
            if not page.data or offset >= _total(page):
                break
