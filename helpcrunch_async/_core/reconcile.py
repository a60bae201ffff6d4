"""Plans that find what changed: which ids we hold are gone, which searches find changes.

This module is pure: it imports neither aiohttp nor asyncio, does no I/O and takes
time as an argument. The shell (`_resources.changes`) asks the plans what to
request, answers them, and reads the results.

Finding deletions by counting (`DeletionPlan`). The server can count the
customers in an id range in one request (a search on ``customers.id >= lo`` and
``customers.id < hi``; its ``total``). We know how many ids we hold in the same
range. Where the two agree the range is taken as clean; where they differ it is
split in two at its median held id, down to ranges whose server count fits one
page (``read_size``), which are read and compared id by id. Only a page that
holds a range's whole count is read that way: a server may serve fewer a page
than asked for, and a short page then lowers ``read_size`` to what it served
and the range is split further, never read as "the rest is gone". The count of the
right half of a split is not asked for: it is the parent's count minus the
left half's. For ``d`` deletions among ``N`` held ids this costs at most
``1 + d * (ceil(log2(N / read_size)) + 2)`` requests, against ``N / read_size``
for reading everything back.

The assumption that makes it exact, and what happens where it fails:

- HelpCrunch ids are auto-increment: a customer created after the ids we hold
  gets an id above every id that existed before. Every range is bounded above by
  ``max(held) + 1``, so customers created before or during the check fall
  outside every range and cannot be mistaken for anything.
- So inside ``[min(held), max(held)]`` the server has only ids we hold (or
  held and since lost). A held set with a gap (a customer that exists but that
  we never saw) breaks this; then a range counts *more* than we hold, which is
  impossible under the assumption: such a range is split and read like any
  other that differs, and the ids read there that we do not hold are reported
  in `DeletionPlan.unknown`. A deletion and an unknown id inside one range
  cancel in the counts and both go unseen; that is the one blind spot, and it
  needs the assumption to be broken first.
- Deletions made while the check runs may or may not be reported. Every id
  reported was absent when its range was read or counted (at zero), so nothing
  that still exists is ever reported; a deletion made during the check can hide
  an earlier one in a neighbouring range (the inferred count of a right half is
  then too high), and the next check finds it.

Finding changes by searching, and the cursors, are the sync's: `helpcrunch_async._sync.plan`.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "CountRange",
    "DeletionPlan",
    "Keyset",
    "ReadRange",
    "deletion_request_bound",
]

# One page of a search: a range that counts this many or fewer is read at once.
READ_SIZE = 100


@dataclass(frozen=True, slots=True)
class CountRange:
    """Ask the server how many ids it has in ``[lo, hi)``."""

    lo: int
    hi: int


@dataclass(frozen=True, slots=True)
class ReadRange:
    """Ask the server for the ids it has in ``[lo, hi)`` (one page of ``read_size``)."""

    lo: int
    hi: int


@dataclass(frozen=True, slots=True)
class _Node:
    lo: int
    hi: int
    # held[start:stop] are the held ids in [lo, hi).
    start: int
    stop: int


@dataclass(frozen=True, slots=True)
class _Pending:
    node: _Node
    # For a left half: the parent's count and the right half, whose count follows.
    parent_count: int | None = None
    sibling: _Node | None = None


class DeletionPlan:
    """Which of the ids we hold are gone, found by counting id ranges.

    Loop: take `next_requests` (all may run at once), answer each `CountRange`
    with `counted` and each `ReadRange` with `read`, until `done`; then
    `deleted` is the sorted list of held ids the server no longer has.
    """

    def __init__(
        self,
        held: Iterable[int],
        *,
        read_size: int = READ_SIZE,
        span: tuple[int, int] | None = None,
    ) -> None:
        """Plan the check of ``held`` ids over ``[min(held), max(held) + 1)``, or ``span``.

        A ``span`` reaching past the held ids also finds the ids outside them
        that we do not hold (in `unknown`): how a scan finds what it missed.
        """
        if read_size < 1:
            raise ValueError("read_size must be at least 1")
        self._held: list[int] = sorted(set(held))
        self._read_size = read_size
        self._ready: list[_Pending] = []
        self._asked: dict[CountRange | ReadRange, _Pending] = {}
        self._deleted: list[int] = []
        self._unknown: list[int] = []
        self._read_next: set[_Node] = set()
        self.requests = 0
        if span is not None:
            lo, hi = span
            if lo >= hi or (self._held and not lo <= self._held[0] <= self._held[-1] < hi):
                raise ValueError(f"span [{lo}, {hi}) must be a range that holds every held id")
            self._ready.append(_Pending(_Node(lo, hi, 0, len(self._held))))
        elif self._held:
            root = _Node(self._held[0], self._held[-1] + 1, 0, len(self._held))
            if len(self._held) <= read_size:
                # One page holds all of it: read instead of counting first.
                self._read_next.add(root)
            self._ready.append(_Pending(root))

    @property
    def done(self) -> bool:
        """Whether every range is settled."""
        return not self._ready and not self._asked

    @property
    def deleted(self) -> list[int]:
        """The held ids the server no longer has, sorted (complete once `done`)."""
        return sorted(self._deleted)

    @property
    def unknown(self) -> list[int]:
        """Ids read inside the held range that we do not hold, sorted (see the module)."""
        return sorted(self._unknown)

    def next_requests(self) -> list[CountRange | ReadRange]:
        """Return every request that may be sent now, and mark them as sent."""
        asks: list[CountRange | ReadRange] = []
        for pending in self._ready:
            node = pending.node
            ask: CountRange | ReadRange
            if node in self._read_next:
                self._read_next.discard(node)
                ask = ReadRange(node.lo, node.hi)
            else:
                ask = CountRange(node.lo, node.hi)
            self._asked[ask] = pending
            asks.append(ask)
        self._ready.clear()
        self.requests += len(asks)
        return asks

    def counted(self, ask: CountRange, count: int) -> None:
        """Record the server's count of ids in the range ``ask``."""
        pending = self._asked.pop(ask)
        self._settle(pending.node, count, explicit=True)
        if pending.sibling is not None:
            assert pending.parent_count is not None  # noqa: S101 -- set with sibling
            right = pending.parent_count - count
            if right <= 0:
                # Zero or less cannot be trusted from a subtraction (a change
                # between the two counts): ask for this one.
                self._ready.append(_Pending(pending.sibling))
            else:
                self._settle(pending.sibling, right, explicit=False)

    def read(self, ask: ReadRange, ids: Sequence[int], total: int) -> None:
        """Record one page of the ids in ``ask`` and the search's ``total``.

        A page that holds fewer ids than ``total`` is not the whole range (the
        server serves fewer a page than asked, or the range grew): nothing is
        inferred from it. Its size becomes the read size (pages of that many
        are what this server serves) and the range is split and counted again
        like any range that differs. An empty page where ``total`` counts more
        is a `ValueError`: the server's data stops short of its own count.
        """
        pending = self._asked.pop(ask)
        node = pending.node
        if len(ids) < total:
            if not ids:
                raise ValueError(
                    f"the server counts {total} ids in [{ask.lo}, {ask.hi}) and serves none"
                )
            self._read_size = min(self._read_size, len(ids))
            self._settle(node, total, explicit=True)
            return
        present = {i for i in ids if node.lo <= i < node.hi}
        held = self._held[node.start : node.stop]
        self._deleted.extend(i for i in held if i not in present)
        held_set = set(held)
        self._unknown.extend(sorted(i for i in present if i not in held_set))

    # -- the engine's plan protocol (`_shell.engine.Plan`) ----------------------

    def next_fetch(self) -> CountRange | ReadRange | None:
        """Return one request that may be sent now (and mark it sent), or None."""
        if not self._ready:
            return None
        pending = self._ready.pop(0)
        node = pending.node
        ask: CountRange | ReadRange
        if node in self._read_next:
            self._read_next.discard(node)
            ask = ReadRange(node.lo, node.hi)
        else:
            ask = CountRange(node.lo, node.hi)
        self._asked[ask] = pending
        self.requests += 1
        return ask

    def page_done(
        self, fetch: CountRange | ReadRange, items: Sequence[int], total: int | None
    ) -> None:
        """Record an answer: a count's ``total``, or a read's ids and ``total`` (never None)."""
        if total is None:
            raise ValueError("a deletion count needs the server's total")
        if isinstance(fetch, CountRange):
            self.counted(fetch, total)
        else:
            self.read(fetch, items, total)

    def release(self) -> None:
        """Release nothing: the outcome is `deleted` and `unknown` once `done`."""

    def obsolete(self) -> list[CountRange | ReadRange]:
        """Return no request: every answer counts."""
        return []

    def cancel(self, fetch: CountRange | ReadRange) -> None:
        """Put a request the shell cancelled back in line."""
        pending = self._asked.pop(fetch, None)
        if pending is not None:
            if isinstance(fetch, ReadRange):
                self._read_next.add(pending.node)
            self._ready.append(pending)
            self.requests -= 1

    @property
    def opening(self) -> bool:
        """No opening pair: the first count is one request."""
        return False

    def open_now(self) -> None:
        """Nothing to open."""

    def _settle(self, node: _Node, count: int, *, explicit: bool) -> None:
        held = node.stop - node.start
        if count == held:
            return
        if count == 0 and explicit:
            self._deleted.extend(self._held[node.start : node.stop])
            return
        if count <= self._read_size:
            self._read_next.add(node)
            self._ready.append(_Pending(node))
            return
        left, right = self._split(node)
        if right is None:
            self._read_next.add(left)
            self._ready.append(_Pending(left))
            return
        self._ready.append(_Pending(left, parent_count=count, sibling=right))

    def _split(self, node: _Node) -> tuple[_Node, _Node | None]:
        held = node.stop - node.start
        if held >= 2:  # noqa: PLR2004 -- two halves with a held id each
            mid = node.start + held // 2
            cut = self._held[mid]
        elif node.hi - node.lo >= 2:  # noqa: PLR2004 -- a range of two ids splits
            # Many unknown ids around at most one held id: split by value.
            cut = (node.lo + node.hi) // 2
            mid = bisect_left(self._held, cut, node.start, node.stop)
        else:
            return node, None
        left = _Node(node.lo, cut, node.start, mid)
        right = _Node(cut, node.hi, mid, node.stop)
        return left, right


def deletion_request_bound(held: int, deletions: int, *, read_size: int = READ_SIZE) -> int:
    """Return the most requests `DeletionPlan` spends on ``deletions`` among ``held`` ids.

    Assumes no unknown ids inside the held range (see the module docstring).
    """
    if held == 0:
        return 0
    if held <= read_size:
        return 1
    depth = 0
    size = held
    while size > read_size:
        size = -(-size // 2)
        depth += 1
    return 1 + deletions * (depth + 2)


class Keyset:
    """Page a search by its sort value, not by offset: the plan of one keyset scan.

    Offsets shift when records leave or join the set during a scan (a visit
    moves a customer to the end of the ``lastSeen`` order; an update brings a
    chat into an ``updatedAt`` set), and a record at a window boundary can slip
    past. Here each page asks for the records whose sort value is at least the
    last one read (`value`, as one more ``>=`` filter) from offset `skip`.

    1. Usually `skip` is 0 and the records of that last value are read again
       (the caller drops them by id): one or a few a page, which costs about 1%
       more pages when values rarely tie. Only when a whole page holds one
       value does `skip` count into that tie group.
    2. The scan ends when a page reaches the ``total`` its search counts (the
       records at or above `value`, from `skip`), never because a page came
       back shorter than asked: a server may serve fewer a page than asked for
       (any number), and the next page starts after what it did serve.
    3. An empty page while ``total`` counts more is data that stops short:
       `done`, with `shortfall` set (the shell raises it).

    A record that leaves the set is simply not there any more; one whose value
    moves up (a visit) is read again at its new value; none that stays can
    slip, with one blind spot: a record leaving a tie group larger than a page
    while it is being read shifts that group by one.
    """

    def __init__(self, page_size: int = READ_SIZE) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.page_size = page_size
        self.value: int | None = None
        self.skip = 0
        self.done = False
        self.shortfall = False

    def page_read(self, keys: Sequence[int | None], total: int) -> None:
        """Record the sort values of one page, in order, and its search's ``total``."""
        if not keys:
            # Rule 3: nothing served where the count says there is more.
            self.done = True
            self.shortfall = total > self.skip
            return
        if self.skip + len(keys) >= total:
            # Rule 2: this page reached the end of what the search counts.
            self.done = True
            return
        last = keys[-1]
        if last is None:
            raise ValueError("a keyset scan needs a sort value on every record")
        if any(key != last for key in keys):
            # The next page starts at this value again: its records here are
            # read twice rather than skipped by a count that a leaver would spoil.
            self.value, self.skip = last, 0
        elif last == self.value:
            self.skip += len(keys)
        else:
            self.value, self.skip = last, len(keys)
