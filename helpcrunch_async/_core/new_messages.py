"""Which pages of each chat hold its messages created since a time: the plan of that read.

This module is pure: it imports neither aiohttp nor asyncio, does no I/O and takes
time as an argument. The shell (`_resources.changes.iter_new_messages`) runs
`NewMessagesPlan` on the scan engine (`_shell.engine.Engine`): it asks
`next_fetch` what to send, reports answers with `page_done` (or `gone` for a
chat that is no more), and takes each chat's new messages back with `release`.

The rules for one chat (`ChatWindow`):

1. Order is read, not assumed. The docs say a chat's messages come newest
   first; a server may list them oldest first. The creation times of the
   messages read so far, in offset order, tell: any rise and no fall is
   oldest first, any fall and no rise newest first; all equal (or one
   message) tells nothing; both is no order at all.
2. Newest first: pages are read from offset 0 until one holds a message older
   than ``since`` (every later one is older still), or the end.
3. Oldest first: the new messages are at the end. Once the first page shows
   the order, pages are read backwards from ``total`` until the oldest
   message read there is older than ``since``, or the two ends meet.
4. No order known (or none at all): read on from the front, to the end.
   Never stop on an assumption: stopping early needs a proven order.
5. Pages are what the server serves: the next page starts after the last
   message it served, whatever was asked; a short page is never the end while
   ``total`` counts more (without a count, only an empty page ends it). An
   empty page where ``total`` counts more is data that stops short
   (`shortfall`).
6. ``since=None`` reads everything (the first sync).

Across chats (`NewMessagesPlan`): each chat's messages are released whole and
in the order the chats were given; at most ``lookahead`` chats are open at
once, each with at most one request in flight, and the engine bounds the
requests in flight by the client's concurrency.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["ChatWindow", "MessageFetch", "NewMessagesPlan", "Released", "message_order"]

T = TypeVar("T")

PAGE_SIZE = 100


def message_order(times: Sequence[int | None]) -> str:
    """Return ``newest-first``, ``oldest-first``, ``unknown`` or ``unordered`` (rule 1)."""
    known = [t for t in times if t is not None]
    rises = any(b > a for a, b in itertools.pairwise(known))
    falls = any(b < a for a, b in itertools.pairwise(known))
    if rises and falls:
        return "unordered"
    if falls:
        return "newest-first"
    if rises:
        return "oldest-first"
    return "unknown"


class ChatWindow(Generic[T]):
    """The read of one chat's messages created at ``since`` or later (rules 1-6)."""

    def __init__(
        self, since: int | None, created: Callable[[T], int | None], page_size: int = PAGE_SIZE
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._since = since
        self._created = created
        self._size = page_size
        self._at: dict[int, T] = {}
        self._total: int | None = None
        self.in_flight = False
        self.done = False
        self.shortfall = False

    def _head(self) -> int:
        # The length of the prefix read without a gap.
        end = 0
        while end in self._at:
            end += 1
        return end

    def _tail(self, total: int) -> int:
        # Where the suffix read without a gap starts (total when nothing is read there).
        start = total
        while start - 1 in self._at:
            start -= 1
        return start

    def next(self) -> tuple[int, int] | None:
        """Return ``(offset, limit)`` of the next page to read, or None (done, or waiting)."""
        if self.done or self.in_flight:
            return None
        ask = self._ask()
        self.done = ask is None
        return ask

    def _ask(self) -> tuple[int, int] | None:
        head = self._head()
        total = self._total
        if total is not None and head >= total:
            return None
        since = self._since
        if since is None or total is None:
            return head, self._size
        prefix = [self._created(self._at[o]) for o in range(head)]
        order = message_order(prefix)
        if order == "newest-first":
            # Rule 2: past the first message older than since, all are older.
            older = any(t is not None and t < since for t in prefix)
            return None if older else (head, self._size)
        if order == "oldest-first":
            # Rule 3: from the end backwards, until the oldest read there is older.
            tail = self._tail(total)
            first = self._at.get(tail)
            oldest = self._created(first) if first is not None else None
            if tail <= head or (oldest is not None and oldest < since):
                return None
            low = max(head, tail - self._size)
            return low, tail - low
        return head, self._size

    def page_done(self, offset: int, items: Sequence[T], total: int | None) -> None:
        """Record the page served from ``offset`` and its ``total`` (rule 5)."""
        self.in_flight = False
        if total is not None:
            self._total = total
        if not items:
            # The end, unless the count says there is more (data that stops short).
            self.done = True
            self.shortfall = total is not None and offset < total
            return
        for index, item in enumerate(items):
            self._at[offset + index] = item
        if total is not None and len(items) < self._size and offset + len(items) < total:
            # A short page while the count says more: this server's page size.
            self._size = len(items)

    def drop(self) -> None:
        """End the read with no messages (the chat is gone)."""
        self.in_flight = False
        self.done = True
        self._at.clear()

    def messages(self) -> list[T]:
        """Return the messages read that were created at ``since`` or later, in offset order."""
        since = self._since
        return [
            item
            for _, item in sorted(self._at.items())
            if since is None or (created := self._created(item)) is None or created >= since
        ]


@dataclass(frozen=True, slots=True)
class MessageFetch:
    """One request: ``limit`` messages from ``offset`` of chat ``chat`` (the ``index``-th given)."""

    index: int
    chat: int
    offset: int
    limit: int


@dataclass(frozen=True, slots=True)
class Released(Generic[T]):
    """One chat read to its end: its new messages; ``shortfall`` if its data stopped short."""

    chat: int
    messages: list[T]
    shortfall: bool


class NewMessagesPlan(Generic[T]):
    """The new messages of many chats, chat after chat, read a few chats at once."""

    def __init__(
        self,
        chats: Sequence[int],
        since: int | None,
        created: Callable[[T], int | None],
        *,
        lookahead: int,
        page_size: int = PAGE_SIZE,
    ) -> None:
        if lookahead < 1:
            raise ValueError("lookahead must be at least 1")
        self._chats = list(chats)
        self._since = since
        self._created = created
        self._lookahead = lookahead
        self._page_size = page_size
        self._next_key = 0
        self._open: deque[tuple[int, ChatWindow[T]]] = deque()
        self._by_index: dict[int, ChatWindow[T]] = {}

    @property
    def done(self) -> bool:
        """Whether every chat has been released."""
        return self._next_key >= len(self._chats) and not self._open

    def next_fetch(self) -> MessageFetch | None:
        """Return the next request, the earliest chat first, or None."""
        while len(self._open) < self._lookahead and self._next_key < len(self._chats):
            window: ChatWindow[T] = ChatWindow(self._since, self._created, self._page_size)
            self._open.append((self._next_key, window))
            self._by_index[self._next_key] = window
            self._next_key += 1
        for index, window in self._open:
            ask = window.next()
            if ask is not None:
                window.in_flight = True
                return MessageFetch(index, self._chats[index], *ask)
        return None

    def page_done(self, fetch: MessageFetch, items: Sequence[T], total: int | None) -> None:
        """Record the answer to ``fetch``."""
        self._by_index[fetch.index].page_done(fetch.offset, items, total)

    def gone(self, fetch: MessageFetch) -> None:
        """Record that the chat of ``fetch`` is gone (404): it is released with no messages."""
        self._by_index[fetch.index].drop()

    def release(self) -> Released[T] | None:
        """Return the first open chat once it is read to its end, or None."""
        if not self._open:
            return None
        index, window = self._open[0]
        if window.next() is not None or not window.done:
            # A first call of next() may find it done; else it has more to read.
            return None
        self._open.popleft()
        del self._by_index[index]
        return Released(self._chats[index], window.messages(), window.shortfall)

    def obsolete(self) -> list[MessageFetch]:
        """Return no request: every answer is needed."""
        return []

    def cancel(self, fetch: MessageFetch) -> None:
        """Forget a request the shell cancelled: its page is asked for again."""
        window = self._by_index.get(fetch.index)
        if window is not None:
            window.in_flight = False

    @property
    def opening(self) -> bool:
        """No opening pair: each chat's first page is one request."""
        return False

    def open_now(self) -> None:
        """Nothing to open."""
