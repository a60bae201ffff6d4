"""What changed since a sync: counts, change scans, deletions, new messages.

Shell glue over the pure plans of `_core.reconcile`. Each function takes the
resource object (``client.customers`` or ``client.chats``); the resources
delegate their ``count``, ``iter_changed`` and ``find_deleted`` methods here.
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
from helpcrunch_async._core.params import check_positive_int
from helpcrunch_async._core.reconcile import (
    READ_SIZE,
    CountRange,
    DeletionPlan,
    Keyset,
    ReadRange,
    chat_change_searches,
    customer_change_searches,
)
from helpcrunch_async._errors import DecodeError, IncompleteScanError, InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import (
        AsyncGenerator,
        AsyncIterator,
        Awaitable,
        Callable,
        Sequence,
    )

    from helpcrunch_async._core.filters import Operator
    from helpcrunch_async._core.params import ChatSort, Order, Sort
    from helpcrunch_async._models.chats import Chat
    from helpcrunch_async._models.customers import Customer
    from helpcrunch_async._models.messages import Message
    from helpcrunch_async._resources.chats import Chats
    from helpcrunch_async._resources.customers import Customers

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


async def count_customers(customers: Customers, where: Sequence[Any] | None = None) -> int:
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


async def customers_high_water(customers: Customers, *, since: int | None = None) -> int | None:
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


async def chats_high_water(chats: Chats) -> int | None:
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
    customers: Customers,
    since: int,
    after_id: int | None = None,
    *,
    overlap: int = DEFAULT_OVERLAP,
    until: int | None = None,
) -> AsyncIterator[Customer]:
    """Yield every customer seen since ``since - overlap`` or with an id above ``after_id``, once.

    ``until`` (default: one past the server's highest ``lastSeen``, asked for
    first) bounds the ``lastSeen`` search above; a customer who visits during
    the scan is found by the next call, whose ``since`` is ``until - 1``. See
    `customer_change_searches` for the searches. The ``lastSeen`` search is
    read a page at a time by key (`Keyset`), not by the scan engine's offsets:
    visits take customers out of its window while it is read, which shifts
    offsets under a concurrent scan and could let one slip. The requests still
    go through the client's one cap and its retries; the ``id`` search uses the
    scan engine. Arguments are checked here, before any request; close the
    iterator (``aclose``) to stop early.
    """
    _check_changes(since, after_id, overlap)
    if until is not None:
        check_positive_int("until", until)
    return _changed_customers(customers, since, after_id, overlap, until)


async def _changed_customers(
    customers: Customers, since: int, after_id: int | None, overlap: int, until: int | None
) -> AsyncIterator[Customer]:
    bound = until
    if bound is None:
        high = await customers_high_water(customers, since=since - overlap)
        bound = None if high is None else high + 1
    seen = IdSet()
    searches = customer_change_searches(
        since=since, until=bound, after_id=after_id, overlap=overlap
    )
    for search in searches:
        where = [_filter(*f) for f in search.filters]
        if search.sort == "customers.lastSeen":
            # Visits take customers out of this set while it is read: by key.
            async def page(where: list[Filter], offset: int) -> Any:
                return await customers.search(
                    where, sort="customers.lastSeen", order="asc", offset=offset, limit=READ_SIZE
                )

            found = _by_key(page, where, "customers.lastSeen", _last_seen)
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
            async for customer in scan:
                if seen.add(customer.id):
                    yield customer


def _last_seen(customer: Customer) -> int | None:
    return customer.last_seen


def _created_at(chat: Chat) -> int | None:
    return chat.created_at


async def _by_key(
    page: Callable[[list[Filter], int], Awaitable[Any]],
    where: list[Filter],
    field: str,
    key: Callable[[Any], int | None],
) -> AsyncGenerator[Any, None]:
    # One request per page, each starting at the last sort value read (`Keyset`).
    plan = Keyset(READ_SIZE)
    while not plan.done:
        cursor = [] if plan.value is None else [_filter(field, ">=", plan.value)]
        answer = await page([*where, *cursor], plan.skip)
        for item in answer.data:
            yield item
        plan.page_read([key(item) for item in answer.data])


@dataclass(frozen=True, slots=True)
class Reconciled:
    """The outcome of a deletion check: ids gone, ids found that were not held, requests spent."""

    deleted: list[int]
    unknown: list[int]
    requests: int


async def reconcile_ids(
    customers: Customers, known_ids: Iterable[int], *, concurrency: int = 8
) -> Reconciled:
    """Count id ranges until the held ids that are gone are known (see `DeletionPlan`)."""
    if isinstance(known_ids, (str, bytes)) or not isinstance(known_ids, Iterable):
        raise InvalidParameterError(
            f"known_ids must be an iterable of customer ids, got {type(known_ids).__name__}"
        )
    ids = [check_positive_int("each of known_ids", i) for i in known_ids]
    plan = DeletionPlan(ids, read_size=READ_SIZE)
    gate = asyncio.Semaphore(concurrency)

    async def answer(ask: CountRange | ReadRange) -> None:
        where = [_filter("customers.id", ">=", ask.lo), _filter("customers.id", "<", ask.hi)]
        async with gate:
            limit = 1 if isinstance(ask, CountRange) else READ_SIZE
            page = await customers.search(where, offset=0, limit=limit)
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
        if isinstance(ask, CountRange):
            plan.counted(ask, total)
        else:
            plan.read(ask, [c.id for c in page.data], total)

    while not plan.done:
        try:
            async with asyncio.TaskGroup() as group:
                for ask in plan.next_requests():
                    group.create_task(answer(ask))
        except ExceptionGroup as failed:
            # The others were cancelled; the caller sees the first error, as a scan's.
            raise failed.exceptions[0] from None
    if plan.unknown:
        logger.warning(
            "%d customers exist inside the held id range that were never held", len(plan.unknown)
        )
    return Reconciled(plan.deleted, plan.unknown, plan.requests)


async def find_deleted(customers: Customers, known_ids: Iterable[int]) -> IdList:
    """Return which of ``known_ids`` the server no longer has, sorted, by counting id ranges."""
    return (await reconcile_ids(customers, known_ids)).deleted


def iter_changed_chats(
    chats: Chats,
    since: int,
    after_id: int | None = None,
    *,
    overlap: int = DEFAULT_OVERLAP,
) -> AsyncIterator[Chat]:
    """Yield every chat updated or created since ``since - overlap``, once.

    Chat ids cannot be searched; ``after_id``, when given, also yields the
    chats above it from the newest end of ``GET /chats`` (sorted by
    ``createdAt`` descending, read a page at a time until an id at or below
    ``after_id``), which catches new chats whatever their timestamps say.
    The searches are read by key (`Keyset` on ``createdAt``): updates bring
    chats into the ``updatedAt`` set while it is read. Arguments are checked
    here, before any request.
    """
    _check_changes(since, after_id, overlap)
    return _changed_chats(chats, since, after_id, overlap)


async def _changed_chats(
    chats: Chats, since: int, after_id: int | None, overlap: int
) -> AsyncIterator[Chat]:
    seen = IdSet()
    for search in chat_change_searches(since=since, overlap=overlap):
        where = [_filter(*f) for f in search.filters]

        # Updates bring chats into the set while it is read: page by createdAt.
        async def search_page(where: list[Filter], offset: int) -> Any:
            return await chats.search(
                where, sort="chats.createdAt", order="asc", offset=offset, limit=READ_SIZE
            )

        found = _by_key(search_page, where, "chats.createdAt", _created_at)
        async with contextlib.aclosing(found) as items:
            async for chat in items:
                if seen.add(chat.id):
                    yield chat
    if after_id is not None:
        async with contextlib.aclosing(_newest_chats(chats, after_id)) as items:
            async for chat in items:
                if seen.add(chat.id):
                    yield chat


async def _newest_chats(chats: Chats, after_id: int) -> AsyncGenerator[Chat, None]:
    # Chat ids cannot be searched: the newest end of GET /chats, a page at a time.
    offset = 0
    while True:
        page = await chats.list(
            offset=offset, limit=READ_SIZE, sort="chats.createdAt", order="desc"
        )
        for chat in page.data:
            if chat.id <= after_id:
                return
            yield chat
        if len(page.data) < READ_SIZE:
            return
        offset += READ_SIZE


async def iter_new_messages(
    chats: Chats, chat_ids: Sequence[int], *, since: int | None, concurrency: int = 8
) -> AsyncIterator[tuple[int, list[Message]]]:
    """Yield ``(chat_id, messages)`` per chat, in order: its messages created at ``since`` or later.

    Messages come newest first, so a chat's pages are read from the front until
    one holds a message older than ``since``: a chat with few new messages costs
    one request. ``since=None`` reads every message. A chat gone meanwhile
    (404) yields an empty list. Up to ``concurrency`` chats are read at once.
    """
    gate = asyncio.Semaphore(concurrency)

    async def bounded(chat_id: int) -> list[Message]:
        async with gate:
            return await _read_new(chats, chat_id, since)

    # A sliding window of tasks keeps the output in order and memory bounded.
    window: list[tuple[int, asyncio.Task[list[Message]]]] = []
    ids = iter(chat_ids)
    try:
        for chat_id in ids:
            window.append((chat_id, asyncio.create_task(bounded(chat_id))))
            if len(window) >= 2 * concurrency:
                head, task = window.pop(0)
                yield head, await task
        while window:
            head, task = window.pop(0)
            yield head, await task
    finally:
        for _, task in window:
            task.cancel()
        if window:
            await asyncio.gather(*(t for _, t in window), return_exceptions=True)


async def _read_new(chats: Chats, chat_id: int, since: int | None) -> list[Message]:
    # Pages from the newest end until one reaches a message older than since.
    from helpcrunch_async._errors import NotFoundError  # noqa: PLC0415 -- see _filter

    found: list[Message] = []
    offset = 0
    while True:
        try:
            page = await chats.messages(chat_id, offset=offset, limit=READ_SIZE)
        except NotFoundError:
            return found
        for message in page.data:
            created = message.created_at
            if since is not None and created is not None and created < since:
                return found
            found.append(message)
        if len(page.data) < READ_SIZE:
            return found
        offset += READ_SIZE
