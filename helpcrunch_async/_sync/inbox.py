"""What a batch of webhook events asks the sync to read: events coalesced per record.

This module is pure: it imports neither aiohttp nor asyncio and does no I/O.
The dlt source reads the waiting events from the inbox file
(`helpcrunch_async.webhooks.Inbox`'s schema), turns each into an `Announced`,
asks `coalesce` what to read, reads it, and removes the events only once the
load that applied them is committed (see `helpcrunch_async._sync.inbox_file`).

The rules, in order:

1. ``customer.deleted`` deletes that customer at once, whatever else its
   events say and in whatever order they came: ids are never reused, so a
   deleted customer cannot come back, and a late ``customer.email_updated``
   must not resurrect it. No read, no counting.
2. Every other ``customer.*`` event names a customer to read again whole by
   id: ten events about one customer are one read, and the read brings the
   fields no event announces (name, phone, notes, custom data) as well.
3. ``chat.*`` and ``message.*`` events name a chat to read again by id, with
   its messages created since the sync's chat cursor (one request for a chat
   with a few new ones); a chat named many times is read once.
4. An event that names no record (a chat event without a chat id) or of a
   type this version does not know is taken and counted as ``skipped``: the
   timestamp scans and the refresh slice still find what it was about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Announced", "InboxBatch", "coalesce"]

_DELETED = "customer.deleted"


@dataclass(frozen=True, slots=True)
class Announced:
    """One waiting event as the plan sees it: its id, type and the records it names."""

    event_id: str
    name: str
    customer_id: int | None = None
    chat_id: int | None = None
    # When the inbox stored it (unix seconds): the batch's lag is measured from the oldest.
    received_at: float = 0.0


@dataclass(frozen=True, slots=True)
class InboxBatch:
    """What one batch of events asks the sync to do, each record once (sorted ids)."""

    event_ids: tuple[str, ...] = ()
    read_customers: tuple[int, ...] = ()
    delete_customers: tuple[int, ...] = ()
    read_chats: tuple[int, ...] = ()
    skipped: int = 0
    oldest: float | None = None

    @property
    def reads(self) -> int:
        """Records to read (customers and chats), after coalescing."""
        return len(self.read_customers) + len(self.read_chats)


def coalesce(events: Iterable[Announced]) -> InboxBatch:
    """Return what ``events`` ask for, coalesced per record (the module's rules)."""
    ids: list[str] = []
    named: set[int] = set()
    deleted: set[int] = set()
    chats: set[int] = set()
    skipped = 0
    oldest: float | None = None
    for event in events:
        ids.append(event.event_id)
        oldest = event.received_at if oldest is None else min(oldest, event.received_at)
        kind = event.name.split(".", 1)[0]
        if kind == "customer" and event.customer_id is not None:
            (deleted if event.name == _DELETED else named).add(event.customer_id)
        elif kind in {"chat", "message"} and event.chat_id is not None:
            chats.add(event.chat_id)
        else:
            skipped += 1
    return InboxBatch(
        event_ids=tuple(ids),
        read_customers=tuple(sorted(named - deleted)),
        delete_customers=tuple(sorted(deleted)),
        read_chats=tuple(sorted(chats)),
        skipped=skipped,
        oldest=oldest,
    )
