"""The fan-out plan: many small listings (chats' messages) fetched at once, released in order.

This module is pure: it imports neither aiohttp nor asyncio and does no I/O. The
shell (`_shell.fanout`) feeds it keys (`add_key`, `close_keys`), asks
`next_fetch` what to send, reports answers with `page_done` (or `skip` for a
listing that is gone), and takes items back in order with `release`.

Each key's listing is paged by its own `ScanPlan` (gap fills, totals, repairs
and all), opened with one window: a listing of one page costs exactly one
request. The rules across listings:

1. Order. Every item of the first key's listing is released, then every item
   of the second's, and so on; each listing in the server's order.
2. Which request next. The head listing (the one being released) comes
   first, up to its own lookahead; then the listings after it, in key order:
   each one's next window, its first page as soon as its key is known, its
   later pages once its first page told the total.
3. Bound. Besides the head listing's own lookahead, at most ``lookahead``
   answers wait or are in flight across the other listings, and at most
   ``lookahead`` listings are open at once: memory stays bounded however
   many keys and items there are. Keys are asked for only while there is room
   (`wants_key`), so a key source may be an endless iterator.
4. Opening. None of its own: whether the server refuses bursts is the
   budget's question, asked once for every scan that shares it (rule 6 of
   `_core.cap`).
5. Gone. A listing that is gone (404: the chat was deleted) is skipped: its
   requests in flight are `obsolete`, and it is released empty, marked.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from helpcrunch_async._core.paging import Fetch, ScanPlan

if TYPE_CHECKING:
    from collections.abc import Hashable, Sequence

__all__ = ["FanOutPlan", "LaneFetch", "Released"]

K = TypeVar("K", bound="Hashable")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LaneFetch(Generic[K]):
    """One request of a fan-out: ``fetch`` within the listing of ``key``.

    ``index`` is the key's position in the input: two equal keys are two listings.
    """

    index: int
    key: K = field(compare=False)
    fetch: Fetch


@dataclass(frozen=True, slots=True)
class Released(Generic[K, T]):
    """Items of one listing that may go now, in order.

    ``finished`` when they are the listing's last (its ``listing`` plan then
    tells whether it fell short); ``skipped`` when the listing was gone.
    """

    index: int
    key: K
    items: Sequence[T]
    finished: bool
    skipped: bool
    listing: ScanPlan[T]


@dataclass(slots=True)
class _Lane(Generic[K, T]):
    index: int
    key: K
    plan: ScanPlan[T]
    skipped: bool = False


class FanOutPlan(Generic[K, T]):
    """The listings of many keys, fetched ahead under one bound and released key by key."""

    __slots__ = (
        "_closed",
        "_in_flight",
        "_lanes",
        "_next_index",
        "_stale",
        "lookahead",
        "page_size",
    )

    def __init__(self, *, page_size: int, lookahead: int) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        if lookahead < 1:
            raise ValueError(f"lookahead must be at least 1, got {lookahead}")
        self.page_size = page_size
        self.lookahead = lookahead
        self._lanes: deque[_Lane[K, T]] = deque()
        self._in_flight: dict[LaneFetch[K], _Lane[K, T]] = {}
        self._next_index = 0
        self._closed = False
        # Requests of skipped listings, for the shell to cancel.
        self._stale: list[LaneFetch[K]] = []

    @property
    def open_listings(self) -> int:
        """Listings taken and not yet released to their end."""
        return len(self._lanes)

    @property
    def in_flight(self) -> int:
        """Requests dispatched and not yet answered."""
        return len(self._in_flight)

    @property
    def buffered(self) -> int:
        """Answers waiting for release, across every listing."""
        return sum(lane.plan.buffered for lane in self._lanes)

    @property
    def done(self) -> bool:
        """Whether every key has been taken and every listing released."""
        return self._closed and not self._lanes

    def wants_key(self) -> bool:
        """Whether another key may be taken now (rule 3)."""
        return not self._closed and len(self._lanes) < self.lookahead

    def add_key(self, key: K) -> None:
        """Take the next key, whose listing goes after every listing taken before."""
        if self._closed:
            raise ValueError("no key may follow close_keys()")
        plan: ScanPlan[T] = ScanPlan(page_size=self.page_size, lookahead=self.lookahead)
        self._lanes.append(_Lane(self._next_index, key, plan))
        self._next_index += 1

    def close_keys(self) -> None:
        """Say that no key follows."""
        self._closed = True

    def next_fetch(self) -> LaneFetch[K] | None:
        """Return the next request to send now, or None if none may start."""
        lanes = [lane for lane in self._lanes if not lane.skipped]
        if not lanes:
            return None
        head, rest = lanes[0], lanes[1:]
        fetch = head.plan.next_fetch()
        if fetch is not None:
            return self._send(head, fetch)
        shared = sum(lane.plan.in_flight + lane.plan.buffered for lane in rest)
        if shared >= self.lookahead:
            return None
        for lane in rest:
            fetch = lane.plan.next_fetch()
            if fetch is not None:
                return self._send(lane, fetch)
        return None

    def page_done(self, lane_fetch: LaneFetch[K], items: Sequence[T], total: int | None) -> None:
        """Record the answer to ``lane_fetch``."""
        lane = self._in_flight.pop(lane_fetch, None)
        if lane is None:
            raise ValueError(f"no request in flight for key {lane_fetch.key!r}")
        lane.plan.page_done(lane_fetch.fetch, items, total)

    def skip(self, lane_fetch: LaneFetch[K]) -> None:
        """Skip the listing of ``lane_fetch``: the server says it is gone (rule 5)."""
        lane = self._in_flight.pop(lane_fetch, None)
        if lane is None:
            return
        lane.skipped = True
        for other, owner in list(self._in_flight.items()):
            if owner is lane:
                del self._in_flight[other]
                self._stale.append(other)

    def obsolete(self) -> list[LaneFetch[K]]:
        """Return requests in flight that are no longer needed: the shell cancels them."""
        stale, self._stale = self._stale, []
        for lane in self._lanes:
            if not lane.skipped:
                stale.extend(LaneFetch(lane.index, lane.key, f) for f in lane.plan.obsolete())
        return stale

    def cancel(self, lane_fetch: LaneFetch[K]) -> None:
        """Forget a request the shell cancelled (one of `obsolete`)."""
        lane = self._in_flight.pop(lane_fetch, None)
        if lane is not None:
            lane.plan.cancel(lane_fetch.fetch)

    def release(self) -> Released[K, T] | None:
        """Return the head listing's items that may go now, else None (rule 1)."""
        if not self._lanes:
            return None
        lane = self._lanes[0]
        plan = lane.plan
        if lane.skipped:
            self._lanes.popleft()
            return Released(lane.index, lane.key, (), finished=True, skipped=True, listing=plan)
        items = plan.release()
        if items is None and not plan.done:
            return None
        finished = plan.done
        if finished:
            self._lanes.popleft()
        return Released(
            lane.index, lane.key, items or (), finished=finished, skipped=False, listing=plan
        )

    def _send(self, lane: _Lane[K, T], fetch: Fetch) -> LaneFetch[K]:
        lane_fetch = LaneFetch(lane.index, lane.key, fetch)
        self._in_flight[lane_fetch] = lane
        return lane_fetch
