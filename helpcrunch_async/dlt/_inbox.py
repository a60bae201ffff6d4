"""The inbox's part of a dlt run: the records its events name, read again as rows.

`helpcrunch_async._sync.inbox_file` takes the events (coalesced per record) and
settles them once their load is committed; here the customers and chats they
name become rows, deletions hard deletes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from helpcrunch_async._sync.reads import (
    read_chats_by_id,
    read_chats_of_customers,
    read_customers_by_id,
)
from helpcrunch_async.dlt._rows import BATCH, deleted, record

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from helpcrunch_async import Chat, HelpCrunch
    from helpcrunch_async._sync.inbox import InboxBatch
    from helpcrunch_async.dlt._report import InboxReport, TableReport
    from helpcrunch_async.dlt._rows import Batches

__all__ = ["inbox_chats", "inbox_customers"]


async def inbox_customers(  # noqa: PLR0917 -- each set is one the caller reads after
    client: HelpCrunch,
    batch: InboxBatch,
    report: InboxReport,
    table: TableReport,
    held: set[int],
    fresh: set[int],
    gone: set[int],
) -> Batches:
    """Yield the deletions and the customers the inbox names, each read once, whole."""
    present, missing = await read_customers_by_id(client.customers, batch.read_customers)
    removed = sorted({*batch.delete_customers, *missing})
    if removed:
        gone.update(removed)
        table.deleted += len(removed)
        report.deleted += len(removed)
        yield deleted(removed)
    rows: list[dict[str, Any]] = []
    for customer in present:
        fresh.add(customer.id)
        if customer.id in held:
            table.changed += 1
        else:
            table.new += 1
        rows.append(record(customer))
    report.customers += len(rows)
    if rows:
        yield rows


async def inbox_chats(  # noqa: PLR0917 -- each set is one the caller reads after
    client: HelpCrunch,
    batch: InboxBatch,
    report: InboxReport,
    table: TableReport,
    held: set[int],
    fresh: set[int],
    gone: set[int],
    summary_only: set[int],
) -> Batches:
    """Yield the chats the inbox names, each read once by id; a chat gone as a delete.

    Then the chats of the customers it names (a chat carries its customer's
    name and email), found by search; their ids go to ``summary_only``: their
    messages need no read.
    """
    rows: list[dict[str, Any]] = []
    async for chat in _named_chats(client, batch, fresh, summary_only):
        if isinstance(chat, int):
            gone.add(chat)
            table.deleted += 1
            rows.extend(deleted([chat]))
            continue
        if chat.id in held:
            table.changed += 1
        else:
            table.new += 1
        rows.append(record(chat))
        if len(rows) >= BATCH:
            yield rows
            rows = []
    report.chats += len(fresh)
    if rows:
        yield rows


async def _named_chats(
    client: HelpCrunch, batch: InboxBatch, fresh: set[int], summary_only: set[int]
) -> AsyncIterator[Chat | int]:
    async for chat in read_chats_by_id(client.chats, batch.read_chats):
        if not isinstance(chat, int):
            fresh.add(chat.id)
        yield chat
    async for chat in read_chats_of_customers(client.chats, batch.read_customers):
        if chat.id not in fresh:
            fresh.add(chat.id)
            summary_only.add(chat.id)
            yield chat
