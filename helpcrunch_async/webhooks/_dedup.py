"""Deduplication of deliveries: the `Dedup` protocol and the in-memory `MemoryDedup`.

HelpCrunch delivers at least once, so one event may arrive several times, even
at once. A receiver *claims* an event's id before it handles it and
*releases* the claim afterwards: ``done=True`` keeps the id marked (a later
delivery is acknowledged without calling the handler), ``done=False`` forgets
it, so that a failed handler leaves nothing marked done and the redelivery is
handled. A copy that arrives while the id is in another request's hands is
`Claim.BUSY`, not a duplicate: acknowledging it would end the deliveries
before that request's handler returned, and lose the event if it then failed.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from typing import Protocol, runtime_checkable

from helpcrunch_async._core.params import check_positive_int

__all__ = ["DEFAULT_WINDOW", "Claim", "Dedup", "MemoryDedup"]

DEFAULT_WINDOW = 100_000
"""How many handled ids `MemoryDedup` remembers by default (its memory: about 80 bytes each)."""


class Claim(enum.Enum):
    """What a claim on an event id found."""

    NEW = "new"
    """The caller owns the id now: handle the event, then release the claim."""
    DONE = "done"
    """Handled (or spooled) before: acknowledge without handling it again."""
    BUSY = "busy"
    """In another request's hands: do not acknowledge; the sender tries again."""


@runtime_checkable
class Dedup(Protocol):
    """What a receiver needs of a deduplication store: two methods.

    `MemoryDedup` (one process) and `RedisDedup` (several workers) implement
    it; any object with these two coroutines does.
    """

    async def claim(self, event_id: str) -> Claim:
        """Take ``event_id`` in hand (`Claim.NEW`), or say it is handled or in hand elsewhere."""
        ...

    async def release(self, event_id: str, *, done: bool) -> None:
        """End the caller's claim: ``done`` keeps the id marked, else the id is forgotten."""
        ...


class MemoryDedup:
    """A bounded in-memory store: the last ``window`` handled ids, and the ids in hand.

    Ids are kept as 64-bit keyed BLAKE2b digests (a random key per instance, so
    no sender can make two ids collide on purpose; by chance, one new event in
    about 10^13 would be taken for a remembered one in a full window of a
    million). When the window is full the oldest id is forgotten; the
    receivers' ``tolerance`` refuses a replay older than that. One process
    only: use `RedisDedup` when several workers receive.
    """

    __slots__ = ("_done", "_key", "_next", "_pending", "_ring", "_window")

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        self._window = check_positive_int("window", window)
        self._key = secrets.token_bytes(16)
        self._done: set[int] = set()
        # The remembered digests in arrival order; the slot at `_next` is the oldest.
        self._ring: list[int | None] = []
        self._next = 0
        self._pending: set[int] = set()

    def __repr__(self) -> str:
        return f"MemoryDedup(window={self._window}, remembered={len(self._done)})"

    def __len__(self) -> int:
        """Return how many handled ids are remembered."""
        return len(self._done)

    def _digest(self, event_id: str) -> int:
        digest = hashlib.blake2b(event_id.encode(), digest_size=8, key=self._key).digest()
        return int.from_bytes(digest, "big")

    async def claim(self, event_id: str) -> Claim:
        """Take ``event_id`` in hand unless it is remembered (DONE) or in hand (BUSY)."""
        return self.claim_now(event_id)

    async def release(self, event_id: str, *, done: bool) -> None:
        """End a claim: remember the id if ``done``, else forget it."""
        self.release_now(event_id, done=done)

    def claim_now(self, event_id: str) -> Claim:
        """`claim` without a coroutine, for synchronous callers (and benchmarks)."""
        key = self._digest(event_id)
        if key in self._done:
            return Claim.DONE
        if key in self._pending:
            return Claim.BUSY
        self._pending.add(key)
        return Claim.NEW

    def release_now(self, event_id: str, *, done: bool) -> None:
        """`release` without a coroutine."""
        key = self._digest(event_id)
        self._pending.discard(key)
        if not done or key in self._done:
            return
        if len(self._ring) < self._window:
            self._ring.append(key)
        else:
            oldest = self._ring[self._next]
            if oldest is not None:
                self._done.discard(oldest)
            self._ring[self._next] = key
            self._next = (self._next + 1) % self._window
        self._done.add(key)
