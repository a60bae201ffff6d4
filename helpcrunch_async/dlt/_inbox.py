"""The inbox's part of a dlt run: take the waiting events, and settle them once committed.

Exactly once, across crashes: the ids of the events a run takes go into the
source's dlt state (``inbox_applied``), which dlt commits in the same load
package as the rows those events caused. The next run (or the command, right
after a load) moves the ids in that state from waiting to applied in the inbox
file (`mark_applied`). So:

- a crash before the package is committed leaves the state, and the events,
  as they were: the next run takes them again (nothing was applied);
- a crash after the commit leaves events waiting that the committed state
  names: the next run settles them before it reads anything, and does not
  apply them again;
- a redelivery of a settled event is acknowledged by ``listen`` without being
  stored (the inbox remembers applied ids, `DONE_KEPT`).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from helpcrunch_async._errors import WebhookPayloadError
from helpcrunch_async._models.events import ChatEvent, CustomerEvent, MessageEvent
from helpcrunch_async._sync.inbox import Announced, InboxBatch, coalesce
from helpcrunch_async._sync.reads import (
    read_chats_by_id,
    read_chats_of_customers,
    read_customers_by_id,
)
from helpcrunch_async.dlt._rows import BATCH, deleted, record
from helpcrunch_async.webhooks._inbox import mark_applied, read_waiting
from helpcrunch_async.webhooks._parse import decode

if TYPE_CHECKING:
    import os
    from collections.abc import AsyncIterator, Mapping

    from helpcrunch_async._client import HelpCrunch
    from helpcrunch_async._models.chats import Chat
    from helpcrunch_async.dlt._report import InboxReport, TableReport
    from helpcrunch_async.dlt._rows import Batches

__all__ = ["APPLIED_KEY", "applied_ids", "inbox_chats", "inbox_customers", "settle", "take"]

logger = logging.getLogger("helpcrunch_async")

# The source state's key that names the events the last committed run applied.
APPLIED_KEY = "inbox_applied"


def take(path: str | os.PathLike[str], state: Mapping[str, Any], limit: int) -> InboxBatch:
    """Settle what the committed ``state`` names, then take up to ``limit`` events, coalesced.

    The resources write the taken ids into the source's state (`APPLIED_KEY`),
    so the load that applies them commits them too.
    """
    settle(path, applied_ids(state))
    announced = [
        _announced(row.id, row.event, row.body, row.received_at)
        for row in read_waiting(path, limit)
    ]
    return coalesce(announced)


def applied_ids(state: Mapping[str, Any]) -> list[str]:
    """Return the event ids a source state says its run applied."""
    return [str(i) for i in state.get(APPLIED_KEY) or []]


def settle(path: str | os.PathLike[str], event_ids: list[str]) -> None:
    """Mark ``event_ids`` applied in the inbox (a repeat is harmless)."""
    if event_ids:
        moved = mark_applied(path, event_ids, time.time())
        logger.debug("inbox: %d of %d applied events settled", moved, len(event_ids))


def _announced(event_id: str, name: str, body: bytes, received_at: float) -> Announced:
    try:
        event = decode(bytes(body))
    except WebhookPayloadError:
        # Verified when stored, so only a newer payload shape gets here: skipped.
        logger.warning("inbox: event %s (%s) cannot be read; left to the scans", event_id, name)
        return Announced(event_id, name, received_at=received_at)
    if isinstance(event, CustomerEvent):
        return Announced(event_id, name, customer_id=event.customer_id, received_at=received_at)
    if isinstance(event, ChatEvent | MessageEvent):
        return Announced(event_id, name, chat_id=event.chat_id, received_at=received_at)
    return Announced(event_id, name, received_at=received_at)


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
