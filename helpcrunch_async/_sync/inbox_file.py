"""The inbox file as the sync takes its events, and settles them once committed.

Exactly once, across crashes: the ids of the events a run takes go into the
source's dlt state (`APPLIED_KEY`), which dlt commits in the same load
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
from helpcrunch_async.webhooks._inbox import mark_applied, read_waiting
from helpcrunch_async.webhooks._parse import decode

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping

__all__ = ["APPLIED_KEY", "INBOX_NAME", "applied_ids", "settle", "take"]

logger = logging.getLogger("helpcrunch_async")

# The inbox's file name in the sync's state folder (where `listen` puts it by default).
INBOX_NAME = "webhooks.sqlite3"
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
