"""The paging plan: which offset windows to fetch, and when a listing is read to its end.

This module is pure: it imports neither aiohttp nor asyncio and does no I/O. The
shell (`_shell.scan`, and `_core.fanout` for many listings at once) asks
`ScanPlan.next_fetch` what to fetch, reports each answer with `page_done`, and
takes items back in order with `release`.

The rules:

1. Opening. The first window (at ``start``) is fetched alone, and no other
   starts until it is answered: its total says what else to fetch, so a
   listing of one page costs one request. Whether the server refuses bursts
   is the budget's question, asked once for every scan that shares it (rule 6
   of `_core.cap`), not each listing's.
2. Lookahead. A window is dispatched only while fewer than ``lookahead``
   answers wait for release or are in flight: a slow consumer slows fetching.
3. Order. Items are released strictly in offset order: the server's order.
4. Totals. Every answer carries the current ``total`` (a page without one
   that comes back short says the data ends there). The plan's estimate is
   the total of the freshest answer: one whose request left after the answer
   that set the estimate arrived was read later by the server and replaces
   it, smaller or larger; answers read in an unknown order only raise it.
   Windows are planned up to the estimate; when it shrinks, windows past the
   new end are not sent, and those in flight are `obsolete` (the shell
   cancels them). When the last planned window comes back full, one more is
   planned, except when it ends exactly at a total that never changed.
5. Short pages. An answer with fewer items than asked for, while the data goes
   on (its total, or the estimate, counts more), leaves a gap: the rest of the
   window is fetched at once, in pages of the size the server served; once
   two short pages agree on that size, later windows use it too. The items
   held stay within a lookahead of windows of the size first asked for.
   A short page without a total looks the same whether the data ends there
   or the server caps its pages, so the rest of its window is asked for
   once (``confirm``): empty, the data ends there; not empty, the server
   caps its pages and the listing reads on.
6. Data that stops short. An empty answer where its own total counts more is
   a promise the data does not keep: nothing is planned past it. When the head
   reaches that offset, one small request (``limit=1``) asks again. If it
   brings an item, the data goes on; if its total now ends there, the data
   shrank and the listing is read; otherwise the plan ends with a `Shortfall`
   saying what is missing, and the shell raises it.
7. Repair. Two neighbouring answers, the earlier read under a total larger
   by ``d``, may have lost items between them: deleted in between (the later
   window's first ``d`` slid back before it) or inserted in between, the
   later window read first (the earlier one's last ``d`` were pushed past
   it); the order of the answers cannot tell which. So, before the later
   window is released, the ``2 * d`` items around its start (``d`` at most a
   page) are fetched again and released first; the shell drops the
   duplicates. When the last window saw a larger total than the freshest,
   its ``d`` last offsets are fetched again before the scan ends. Changes
   while a repair is in flight, or that cancel out in the totals, go unseen
   here; `_core.recount` counts what they cost.
8. The plan is done when the head reaches the end of the data; answers
   already buffered past it are released then too (the shell drops what it
   has seen).

Why these rules, what they cost and the servers that shaped them:
docs/design.md, "Paging".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["Fetch", "PageResult", "ScanPlan", "Shortfall"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageResult(Generic[T]):
    """One page as a scan needs it: its ``items`` in order, its ``total`` (None: none sent)."""

    items: Sequence[T]
    total: int | None


@dataclass(frozen=True, slots=True)
class Fetch:
    """One request of a scan: ``limit`` items from ``offset``.

    ``repair_for``: the offset of the window a repair is released before
    (rule 7); ``probe``: the small request of rule 6; ``confirm``: rule 5's.
    """

    offset: int
    limit: int
    repair_for: int | None = None
    probe: bool = False
    confirm: bool = False


@dataclass(frozen=True, slots=True)
class Shortfall:
    """The data stopped at ``at_offset`` while the server's ``total`` counts ``missing`` more."""

    at_offset: int
    missing: int
    total: int


@dataclass(slots=True)
class _Part(Generic[T]):
    """An answer waiting for release: its items cover ``covers`` offsets from its own."""

    items: Sequence[T]
    total: int | None
    covers: int


class ScanPlan(Generic[T]):
    """The offset windows of one listing, dispatched ahead and released in order."""

    __slots__ = (
        "_answers",
        "_capped",
        "_end_repaired",
        "_extend_to",
        "_finished",
        "_first_total",
        "_in_flight",
        "_largest_total",
        "_next",
        "_parts",
        "_pending",
        "_previous",
        "_repairs",
        "_short_counts",
        "_short_end",
        "_shortfall",
        "_stop_at",
        "_total",
        "_total_seen_at",
        "_untold_from",
        "_untold_to",
        "head",
        "lookahead",
        "page_size",
        "start",
    )

    def __init__(self, *, page_size: int, lookahead: int, start: int = 0) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        if lookahead < 1:
            raise ValueError(f"lookahead must be at least 1, got {lookahead}")
        if start < 0:
            raise ValueError(f"start offset must be >= 0, got {start}")
        self.page_size = page_size
        self.lookahead = lookahead
        self.start = start
        # Offset of the first item not yet released.
        self.head = start
        self._next = start
        self._answers = 0
        # The freshest total (rule 4) and the answer count when it arrived.
        self._total: int | None = None
        self._total_seen_at = -1
        self._first_total: int | None = None
        self._largest_total: int | None = None
        # A full last window plans one more, up to here.
        self._extend_to = start
        # Nothing is planned past an empty answer whose total counts more (rule 6).
        self._stop_at: int | None = None
        self._parts: dict[int, _Part[T]] = {}
        # Every request out, with the answer count when it left.
        self._in_flight: dict[Fetch, int] = {}
        # Gap fills, repairs and the probe: sent before any new window.
        self._pending: list[Fetch] = []
        # The last released answer, which the next one is checked against.
        self._previous: _Part[T] | None = None
        # Repair windows by the window they precede: None until answered.
        self._repairs: dict[int, dict[Fetch, _Part[T] | None]] = {}
        self._shortfall: Shortfall | None = None
        self._end_repaired = False
        self._finished = False
        # Pages without a total: the end of the first short one, where the
        # non-empty ones start and end at the furthest, and whether they show a cap.
        self._short_end: int | None = None
        self._untold_from = -1
        self._untold_to = 0
        self._capped = False
        # How many short pages served each count, until two agree (rule 5).
        self._short_counts: dict[int, int] = {}

    @property
    def in_flight(self) -> int:
        """Requests dispatched and not yet answered."""
        return len(self._in_flight)

    @property
    def buffered(self) -> int:
        """Answers waiting for an earlier one to be released."""
        return len(self._parts)

    @property
    def buffered_items(self) -> int:
        """Items held in answers waiting for release (the memory the plan bounds)."""
        return sum(len(part.items) for part in self._parts.values())

    @property
    def total(self) -> int | None:
        """The freshest total the answers told (rule 4); None before the first or without."""
        return self._total

    @property
    def first_total(self) -> int | None:
        """The total the first answer told."""
        return self._first_total

    @property
    def largest_total(self) -> int | None:
        """The largest total any answer told."""
        return self._largest_total

    @property
    def data_end(self) -> int | None:
        """Offsets below this hold data, as far as the answers tell; None before the first."""
        if self._answers == 0:
            return None
        end = self._extend_to
        if self._total is not None:
            end = max(end, self._total)
        return end

    @property
    def shortfall(self) -> Shortfall | None:
        """What the data failed to deliver (rule 6), once the plan ended on it."""
        return self._shortfall

    @property
    def done(self) -> bool:
        """Whether the listing has been read to its end, or ended on a shortfall."""
        return self._finished

    def next_fetch(self) -> Fetch | None:
        """Return the next request to send now, or None if none may start."""
        if self._finished:
            return None
        if self._pending:
            fetch = self._pending.pop(0)
            self._in_flight[fetch] = self._answers
            return fetch
        if self._answers == 0:
            # Rule 1: the first window alone.
            return self._dispatch() if self._next == self.start else None
        if (
            self._next >= self._plan_end()
            or len(self._in_flight) + len(self._parts) >= self.lookahead
        ):
            return None
        return self._dispatch()

    def page_done(self, fetch: Fetch, items: Sequence[T], total: int | None) -> None:
        """Record the answer to ``fetch``: its items and the server's ``total`` (None: none)."""
        born = self._in_flight.pop(fetch, None)
        if born is None:
            raise ValueError(f"no request in flight at offset {fetch.offset}")
        answer = self._answers
        self._answers += 1
        offset, limit, count = fetch.offset, fetch.limit, len(items)
        if answer == 0:
            self._first_total = total
        told = self._told(total, offset, count, limit)
        self._learn_total(told, born, answer)
        if total is None and count == 0 and fetch.repair_for is None:
            self._extend_to = min(self._extend_to, max(offset, self.head))
        if fetch.repair_for is not None:
            repairs = self._repairs.get(fetch.repair_for)
            if repairs is not None:
                repairs[fetch] = _Part(items, total, count)
        elif self._finished:
            pass
        elif fetch.probe and count == 0:
            self._probe_answered(offset, told)
        elif count == 0:
            self._empty(fetch, told, _Part(items, total, 0))
        else:
            if fetch.probe:
                self._stop_at = None
            self._keep(fetch, _Part(items, total, min(count, limit)), told)

    def _empty(self, fetch: Fetch, told: int | None, part: _Part[T]) -> None:
        """Note an empty answer; rule 6 if its own total counts more."""
        offset = fetch.offset
        if fetch.confirm and told is None:
            # The short page before it was the end (rule 5): `page_done` cut the plan there.
            return
        if told is not None and offset < told:
            self._stop_at = offset if self._stop_at is None else min(self._stop_at, offset)
        if offset not in self._parts:
            # Kept for its total: the previous window may need a repair (rule 7).
            self._parts[offset] = part

    def _keep(self, fetch: Fetch, part: _Part[T], told: int | None) -> None:
        """Buffer a non-empty answer; plan its gap fill, or one more window past it."""
        offset, limit, count = fetch.offset, fetch.limit, part.covers
        self._parts[offset] = part
        capped = part.total is None and self._capped
        if count < limit:
            if capped or (told is not None and offset + count < told):
                self._served(count)
            end = offset + limit
            if offset + count < self._plan_end():
                # The rest of the window, in pages of the size the server serves.
                size = self.page_size
                self._pending.extend(
                    Fetch(gap, min(size, end - gap)) for gap in range(offset + count, end, size)
                )
            elif part.total is None and not self._capped and not self._covered(offset + count):
                # Rule 5: without a total, the end and a page cap look alike.
                self._pending.append(Fetch(offset + count, limit - count, confirm=True))
            if not capped:
                return
        total = part.total
        exact = total is not None and offset + limit == total == self._first_total
        if offset + limit >= self._plan_end() and not exact:
            # The last planned window is full: the data may go on (rule 4).
            self._extend_to = max(self._extend_to, offset + limit + 1)

    def _served(self, count: int) -> None:
        """Learn the page size the server serves, once two short pages agree (rule 5).

        One short page may be a fluke, and a long scan planned in its size costly.
        """
        seen = self._short_counts
        seen[count] = seen.get(count, 0) + 1
        if seen[count] >= 2:  # noqa: PLR2004 -- two pages agree
            self.page_size = min(self.page_size, count)
        if len(seen) > 2 * self.lookahead:
            # A server whose short pages all differ: keep the counts bounded.
            seen.clear()

    def _told(self, total: int | None, offset: int, count: int, limit: int) -> int | None:
        """Return the total an answer tells: its own, or where a page without one ends."""
        if total is not None:
            return total
        if count:
            self._note_untold(offset, count, limit)
        # A page without a total that comes back short says where the data ends
        # (unless the server caps its pages); an empty one, that it ends there
        # at the latest (`page_done` cuts the plan there).
        if 0 < count < limit and not self._capped:
            return offset + count
        return None

    def _note_untold(self, offset: int, count: int, limit: int) -> None:
        """Watch pages without a total for a page cap: items past a short page's end."""
        if count < limit:
            end = offset + count
            self._short_end = end if self._short_end is None else min(self._short_end, end)
        self._untold_from = max(self._untold_from, offset)
        self._untold_to = max(self._untold_to, offset + count)
        if (
            not self._capped
            and self._short_end is not None
            and self._short_end <= self._untold_from
        ):
            # A short page was not the end: the server caps its pages, and
            # without a total only an empty page ends the data (rule 5).
            self._capped = True
            self._total = None
            self._extend_to = max(self._extend_to, self._untold_to + 1)

    def stop(self) -> None:
        """End the plan at the head: the shell saw the server serve the same items again."""
        self._finished = True
        self._parts.clear()
        self._pending.clear()

    def cancel(self, fetch: Fetch) -> None:
        """Forget a request the shell cancelled (one of `obsolete`)."""
        self._in_flight.pop(fetch, None)

    def obsolete(self) -> list[Fetch]:
        """Return the windows in flight past the end of the data: the shell cancels them."""
        if self._finished:
            return [f for f in self._in_flight if f.repair_for is None]
        if self._answers == 0:
            return []
        end = self._plan_end()
        return [
            f
            for f in self._in_flight
            if f.offset >= end and f.repair_for is None and not f.probe and not f.confirm
        ]

    def release(self) -> Sequence[T] | None:
        """Return the head answer's items if they may go (and advance), else None.

        None also when the head needs a repair, a gap fill or a probe first:
        those are then among the requests `next_fetch` returns. When the head
        reaches the end of the data, the answers buffered past it come out
        together, once, and the plan is done.
        """
        if self._finished:
            return None
        head = self.head
        part = self._parts.get(head)
        if part is None:
            return self._at_gap()
        if head in self._repairs:
            repairs = self._repairs[head]
            parts = [repairs[fetch] for fetch in sorted(repairs, key=lambda f: f.offset)]
            if None in parts:
                return None
            del self._repairs[head]
            repaired = [item for p in parts if p for item in p.items]
            repaired.extend(part.items)
            items: Sequence[T] = repaired
        else:
            fetches = self._repairs_needed(head, part)
            if fetches:
                self._repairs[head] = dict.fromkeys(fetches)
                self._pending.extend(fetches)
                return None
            items = part.items
        del self._parts[head]
        self.head += part.covers
        self._previous = part
        return items

    def _at_gap(self) -> Sequence[T] | None:
        """Decide what to do when no answer is waiting at the head."""
        head = self.head
        if self._answers == 0 or any(
            f.offset == head and f.repair_for is None for f in (*self._in_flight, *self._pending)
        ):
            return None
        data_end = self.data_end
        assert data_end is not None  # noqa: S101 -- an answer has arrived
        if head < self._plan_end():
            self._fill(head)
            return None
        if self._stop_at is not None and head >= self._stop_at and head < data_end:
            self._pending.append(Fetch(head, 1, probe=True))
            return None
        if head in self._repairs:
            return self._end_repair(head)
        if self._repair_the_end(head):
            return None
        self._finished = True
        rest = [item for o in sorted(self._parts) for item in self._parts[o].items]
        self._parts.clear()
        return rest

    def _covered(self, offset: int) -> bool:
        """Whether an answer at ``offset`` is held, or a request for it is out or planned."""
        return offset in self._parts or any(
            f.offset == offset for f in (*self._in_flight, *self._pending)
        )

    def _fill(self, head: int) -> None:
        """Fetch what lies at the head, when nothing that covers it is out."""
        if head >= self._next:
            # Not planned yet: the next window starts here.
            return
        # Data lies here, yet nothing covers the head: a window was cancelled.
        later = [self._next, *(o for o in self._parts if o > head)]
        later += [f.offset for f in (*self._in_flight, *self._pending) if f.offset > head]
        limit = min([self.page_size, *(o - head for o in later)])
        self._pending.append(Fetch(head, limit))

    def _repair_the_end(self, head: int) -> bool:
        """Plan the end's repair (rule 7): the last window was read under a larger total."""
        previous, total = self._previous, self._total
        if (
            self._end_repaired
            or previous is None
            or previous.total is None
            or total is None
            or previous.total <= total
        ):
            return False
        self._end_repaired = True
        # Deleted after the last window was read: its last items' followers
        # slid back into it, before the end.
        low = max(self.start, head - min(previous.total - total, self.page_size))
        if low >= head:
            return False
        fetch = Fetch(low, head - low, repair_for=head)
        self._repairs[head] = {fetch: None}
        self._pending.append(fetch)
        return True

    def _end_repair(self, head: int) -> Sequence[T] | None:
        repairs = self._repairs[head]
        if None in repairs.values():
            return None
        del self._repairs[head]
        return [item for part in repairs.values() if part for item in part.items]

    def _probe_answered(self, offset: int, told: int | None) -> None:
        if told is not None and told > offset:
            self._shortfall = Shortfall(at_offset=offset, missing=told - offset, total=told)
            self._finished = True
            self._parts.clear()
            return
        # The total now ends here: the data shrank while the scan ran.
        self._stop_at = None
        self._total = offset
        self._extend_to = min(self._extend_to, offset)

    def _learn_total(self, told: int | None, born: int, answer: int) -> None:
        if told is None:
            return
        fresher = born > self._total_seen_at
        if self._total is None or fresher or told >= self._total:
            # Fresher than the answer that set the estimate, or at least as large.
            self._total, self._total_seen_at = told, answer
            if fresher:
                self._extend_to = min(self._extend_to, max(told, self.head))
        if self._largest_total is None or told > self._largest_total:
            self._largest_total = told

    def _plan_end(self) -> int:
        end = self.data_end
        if end is None:
            return self.start
        if self._stop_at is not None:
            end = min(end, self._stop_at)
        return end

    def _repairs_needed(self, head: int, part: _Part[T]) -> list[Fetch]:
        previous = self._previous
        if (
            previous is None
            or previous.total is None
            or part.total is None
            or previous.total <= part.total
        ):
            return []
        shift = min(previous.total - part.total, self.page_size)
        # Deleted in between: this window's first items slid back before
        # ``head``. Inserted in between (this window read first): the previous
        # window's last items were pushed past ``head``. Fetch both sides.
        low, high = max(self.start, head - shift), head + shift
        return [
            Fetch(offset, min(self.page_size, high - offset), repair_for=head)
            for offset in range(low, high, self.page_size)
        ]

    def _dispatch(self) -> Fetch:
        fetch = Fetch(self._next, self.page_size)
        self._next += self.page_size
        self._in_flight[fetch] = self._answers
        return fetch
