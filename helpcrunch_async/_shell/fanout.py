"""The running fan-out: the listings of many keys (a chat's messages each) in one ordered stream.

Shell code over `_core.fanout.FanOutPlan`, on the same task loop as every scan
(`_shell.engine.Engine`). Keys come from a list, any iterable or an async
iterable (another scan, say), taken only while the plan has room; every
request goes through one ``fetch_page(key, offset, limit, stats)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import (
    AsyncIterable,
    Callable,
    Coroutine,
    Hashable,
    Iterable,
    Iterator,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from helpcrunch_async._core.fanout import FanOutPlan, LaneFetch, Released
from helpcrunch_async._core.idset import IdSet
from helpcrunch_async._core.paging import PageResult
from helpcrunch_async._errors import HelpCrunchError, NotFoundError
from helpcrunch_async._shell.checks import Dedup, check_complete, repeating_error
from helpcrunch_async._shell.engine import Engine
from helpcrunch_async._shell.stats import ScanStats

__all__ = ["FanOutScan", "FanOutStats", "FetchListingPage"]

logger = logging.getLogger("helpcrunch_async")

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")

# (key, offset, limit, stats) -> one page of that key's listing.
FetchListingPage = Callable[[K, int, int, ScanStats], Coroutine[Any, Any, PageResult[T]]]

# The keys of listings that were gone are kept up to this many (the count goes on).
_KEEP_GONE = 1000


@dataclass(slots=True)
class FanOutStats(ScanStats):
    """`ScanStats` of a fan-out, plus what happened to its listings.

    ``listings`` counts the keys taken (a key repeated is taken once),
    ``listings_done`` the listings whose every item has been yielded (or that
    were skipped), in key order: the first ``listings_done`` keys are
    finished. ``not_found`` counts the listings that were gone (404) and
    skipped; ``not_found_keys`` holds the first 1,000 of their keys;
    ``cut_short`` counts those of them that were gone after some of their
    items had been read (yielded, unless the scan holds whole listings).
    ``customers`` counts the items yielded, of whatever kind.
    """

    listings: int = 0
    listings_done: int = 0
    not_found: int = 0
    not_found_keys: list[Hashable] = field(default_factory=list)
    cut_short: int = 0


class FanOutScan(Engine[LaneFetch[K], Released[K, T], T], Generic[K, T]):
    """Every item of many listings: all of the first key's, then the second's, and so on.

    ``listings`` are the keys (or objects turned into keys by ``listing_id``):
    a list, any iterable or an async iterable, read lazily. ``fetch_page(key,
    offset, limit, stats)`` fetches one page of a key's listing; ``key(item)``
    is the item's id, by which an item seen twice within a listing is dropped.
    At most ``concurrency`` requests are in flight across all listings, and at
    most twice that many pages wait or fly ahead of the consumer besides the
    current listing's. A listing of one page costs one request. A key seen
    before is skipped: each listing is read once, so each item comes once. A
    listing that is gone (`NotFoundError`) is counted in ``stats.not_found``
    and skipped; any other error ends the scan. With ``whole``, a listing's
    items are held until it is read to its end and then yielded together, so
    a listing gone part way yields none of them (memory then holds one
    listing). ``current_listing`` is the key of the last item yielded. An
    async iterable with ``aclose`` is closed with the scan.
    """

    def __init__(
        self,
        listings: Iterable[Any] | AsyncIterable[Any],
        fetch_page: FetchListingPage[K, T],
        *,
        key: Callable[[T], int],
        page_size: int,
        concurrency: int,
        listing_id: Callable[[Any], K] | None = None,
        noun: str = "items",
        whole: bool = False,
    ) -> None:
        plan: FanOutPlan[K, T] = FanOutPlan(page_size=page_size, lookahead=2 * concurrency)
        self.stats: FanOutStats
        super().__init__(plan, concurrency=concurrency, stats=FanOutStats())
        self._fan: FanOutPlan[K, T] = plan
        self._noun = noun
        self._fetch_page = fetch_page
        self._key = key
        self._listing_id: Callable[[Any], K] = listing_id if listing_id is not None else _same
        self._source: AsyncIterable[Any] | None = None
        self._keys: Iterator[Any] | None = None
        if isinstance(listings, AsyncIterable):
            self._source = listings
        else:
            self._keys = iter(listings)
        self._feeder: asyncio.Task[None] | None = None
        self._source_error: Exception | None = None
        self._room: asyncio.Event | None = None
        self._dedup: Dedup[T] = Dedup(key)
        self._listing: int | None = None
        self.current_listing: K | None = None
        # Keys taken so far (ints, as every resource's are, compactly; others in a set).
        self._taken_ids = IdSet()
        self._taken: set[Hashable] = set()
        self._whole = whole
        # The head listing's items, held until it is read to its end (``whole``).
        self._held: list[T] = []

    def _request(self, fetch: LaneFetch[K]) -> Coroutine[Any, Any, PageResult[T]]:
        inner = fetch.fetch
        return self._fetch_page(fetch.key, inner.offset, inner.limit, self.stats)

    def _rank(self, fetch: LaneFetch[K]) -> tuple[int, ...]:
        return (fetch.index, fetch.fetch.offset)

    def _absorb(self, fetch: LaneFetch[K], error: BaseException) -> bool:
        if not isinstance(error, NotFoundError):
            return False
        self._fan.skip(fetch)
        stats = self.stats
        stats.not_found += 1
        if len(stats.not_found_keys) < _KEEP_GONE:
            stats.not_found_keys.append(fetch.key)
        logger.warning("skipping %r: the server says it is gone (%s)", fetch.key, error)
        return True

    def _deliver(self, released: Released[K, T]) -> list[T]:
        if released.index != self._listing:
            self._listing = released.index
            self._dedup = Dedup(self._key)
            self._held = []
        fresh = self._dedup.fresh(released.items)
        stats = self.stats
        stats.duplicates += len(released.items) - len(fresh)
        if released.skipped and released.listing.data_end is not None:
            # Gone after a page of it was answered (and perhaps yielded).
            stats.cut_short += 1
        failed = self._failed(released, fresh)
        if released.finished:
            stats.listings_done += 1
            if self._room is not None:
                self._room.set()
        if self._whole:
            # Held until the listing is read to its end; dropped if it is gone or failed.
            self._held.extend(fresh)
            fresh = []
            if released.finished:
                whole = not (released.skipped or failed)
                fresh, self._held = (self._held if whole else []), []
        stats.items += len(fresh)
        if fresh:
            self.current_listing = released.key
        return fresh

    def _failed(self, released: Released[K, T], fresh: Sequence[T]) -> bool:
        """Check a listing's release (repeats; at its end, completeness); fail the scan if bad."""
        dedup, listing = self._dedup, released.listing
        where = f"{released.key!r}: "
        error: HelpCrunchError | None = None
        if dedup.repeating(released.items, fresh, listing.total):
            if listing.total is None:
                listing.stop()
            else:
                error = repeating_error(listing, noun=self._noun, where=where)
        if error is None and released.finished and not released.skipped:
            try:
                check_complete(listing, dedup, noun=self._noun, where=where)
            except HelpCrunchError as incomplete:
                error = incomplete
        if error is not None:
            self._fail(error, (released.index,))
        return error is not None

    def _before_dispatch(self) -> None:
        plan = self._fan
        if self._keys is not None:
            while plan.wants_key():
                try:
                    item = next(self._keys)
                    self._take(item)
                except StopIteration:
                    plan.close_keys()
                    break
                except Exception as error:  # noqa: BLE001 -- the source's failure ends the scan
                    self._source_failed(error)
                    break
        elif self._source is not None and self._feeder is None:
            self._room = asyncio.Event()
            self._feeder = asyncio.create_task(_feed(weakref.ref(self), self._source, self._room))
        elif self._room is not None and plan.wants_key():
            self._room.set()

    def _take(self, item: Any) -> None:
        key = self._listing_id(item)
        if isinstance(key, int):
            if not self._taken_ids.add(key):
                return
        elif key in self._taken:
            return
        else:
            self._taken.add(key)
        self._fan.add_key(key)
        self.stats.listings += 1

    def _source_failed(self, error: Exception) -> None:
        """End the keys at a failing source: its error comes after the listings before it."""
        self._keys = None
        self._source_error = error
        self._fan.close_keys()

    def _check_end(self) -> None:
        if self._source_error is not None:
            raise self._source_error

    def _poke(self) -> None:
        """Start what the plan allows now and wake the consumer."""
        self._dispatch()
        if self._wakeup is not None:
            self._wakeup.set()

    def __del__(self) -> None:
        # Dropped after `break`: the feeder holds the scan only weakly, so it
        # gets here at once and stops the feeder with the requests.
        feeder = getattr(self, "_feeder", None)
        if feeder is not None:
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                feeder.cancel()
        super().__del__()

    async def _shutdown(self) -> None:
        # Closed first: an answer arriving while the feeder ends must not
        # dispatch, and so start another feeder.
        self._closed = True
        feeder, self._feeder = self._feeder, None
        if feeder is not None and not feeder.done():
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder
        await super()._shutdown()
        source = self._source
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            self._source = None
            await aclose()

    def _abandon(self) -> None:
        if self._feeder is not None:
            self._feeder.cancel()
        super()._abandon()


def _same(item: Any) -> Any:
    return item


async def _feed(
    scan_ref: weakref.ref[FanOutScan[Any, Any]], source: AsyncIterable[Any], room: asyncio.Event
) -> None:
    """Take keys from an async source while the scan has room.

    The scan is held weakly, as the engine's callbacks hold it: a scan dropped
    after ``break`` must not live on in a cycle with its own feeder.
    """
    try:
        async for item in source:
            scan = scan_ref()
            if scan is None:
                return
            scan._take(item)  # noqa: SLF001 -- the scan's own feeder
            scan._poke()  # noqa: SLF001
            wants_key = scan._fan.wants_key  # noqa: SLF001
            del scan
            while not wants_key():
                room.clear()
                await room.wait()
        scan = scan_ref()
        if scan is not None:
            scan._fan.close_keys()  # noqa: SLF001
    except asyncio.CancelledError:
        raise
    except Exception as error:  # noqa: BLE001 -- the source's failure ends the scan
        scan = scan_ref()
        if scan is not None:
            scan._source_failed(error)  # noqa: SLF001
    scan = scan_ref()
    if scan is not None:
        scan._poke()  # noqa: SLF001
