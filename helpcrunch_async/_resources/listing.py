"""What every resource shares: one paged endpoint asked for one window, or scanned whole.

A resource is a short file of glue: it names the path, the parameters, the
decoder and the id of an item, and leaves the asking to `Resource.page` (one
window, a GET query or a search's POST body) and `Resource.scan` (every window,
through the shared scan engine). Every resource of a client holds the same
`Caller`, so every request of every resource draws on the client's one budget.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable as CollectionsIterable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import msgspec

from helpcrunch_async._core.filters import search_body
from helpcrunch_async._core.paging import PageResult
from helpcrunch_async._core.params import (
    check_limit,
    check_offset,
    check_order,
    check_positive_int,
    check_sort,
)
from helpcrunch_async._errors import ClientClosedError, InvalidParameterError
from helpcrunch_async._shell.fanout import FanOutScan

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence

    from helpcrunch_async._core.filters import Filter, SearchResource
    from helpcrunch_async._shell.caller import Caller
    from helpcrunch_async._shell.scan import FetchRange, Scan
    from helpcrunch_async._shell.stats import ScanStats

__all__ = ["Identified", "Page", "Resource", "item_id", "list_params", "search_params"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
P = TypeVar("P")
S = TypeVar("S", bound="Scan[Any]")

# Search bodies hold only str, int, lists and dicts of them.
_ENCODER = msgspec.json.Encoder()


class Page(Protocol[T_co]):
    """What a scan reads from any page type: its ``data`` and its ``total`` (None: unsent)."""

    @property
    def total(self) -> int | None:
        """The count the server sent with the page, or None."""
        ...

    @property
    def data(self) -> Sequence[T_co]:
        """The page's items, in the server's order."""
        ...


class Resource:
    """The base of every ``client.<resource>``: its caller, its scans, their closing."""

    def __init__(self, caller: Caller, *, concurrency: int) -> None:
        self._caller = caller
        self._concurrency = concurrency
        self._scans: weakref.WeakSet[Scan[Any] | FanOutScan[Any, Any]] = weakref.WeakSet()

    @property
    def server_time(self) -> int | None:
        """The server's clock by the ``Date`` header of its latest answer (unix seconds)."""
        return self._caller.server_time

    async def page(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        decode: Callable[[bytes], P],
        stats: ScanStats | None = None,
    ) -> P:
        """Send one request for one window: ``params`` as the query (GET) or JSON body (POST)."""
        if method == "GET":
            return await self._caller.call(method, path, params, decode, stats)
        body = _ENCODER.encode(params)
        return await self._caller.call(method, path, {}, decode, stats, body=body)

    def scan(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        decode: Callable[[bytes], Page[Identified]],
        *,
        kind: type[S],
        noun: str | None = None,
        page_size: int,
        start: int,
        concurrency: int | None,
        recount: FetchRange[Any] | None = None,
        seen: Iterable[int] = (),
    ) -> S:
        """Return a scan (a ``kind``, such as ``Scan[Chat]``) of every window of one endpoint.

        ``params`` are one window's (their ``offset`` and ``limit`` are replaced
        for each window); items seen before are dropped by their ``id``.
        ``page_size``, ``start`` and ``concurrency`` (the client's when None)
        are checked here, before any request. ``noun`` names the items in log
        lines and errors ("chats"); ``recount`` reads them by id range and
        ``seen`` are the ids before ``start`` (see `Scan`).
        """
        check_limit(page_size)
        check_offset(start)
        workers = self.workers(concurrency)
        if isinstance(seen, str | bytes) or not isinstance(seen, CollectionsIterable):
            raise InvalidParameterError(
                f"seen must be an iterable of {noun or 'item'} ids, got {type(seen).__name__}"
            )

        async def fetch(offset: int, limit: int, stats: ScanStats) -> PageResult[Any]:
            window = {**params, "offset": offset, "limit": limit}
            page = await self.page(method, path, window, decode, stats)
            return PageResult(page.data, page.total)

        scan = kind(
            fetch,
            key=item_id,
            page_size=page_size,
            concurrency=workers,
            start=start,
            noun=noun,
            recount=recount,
            seen=seen,
        )
        self._scans.add(scan)
        return scan

    def fan_out(
        self,
        listings: Iterable[Any] | AsyncIterable[Any],
        path: Callable[[int], str],
        decode: Callable[[bytes], Page[Identified]],
        *,
        listing_id: Callable[[Any], int],
        noun: str,
        page_size: int,
        concurrency: int | None,
        whole: bool = False,
    ) -> FanOutScan[int, Any]:
        """Return a fan-out over one GET listing per key: all of the first's items, then the next.

        ``path(key)`` is a key's listing (``/chats/{id}/messages``);
        ``listing_id`` turns what ``listings`` holds into a key, raising
        `InvalidParameterError` for what cannot be one; ``whole`` holds each
        listing's items until it is read to its end (see `FanOutScan`).
        """
        check_limit(page_size)
        workers = self.workers(concurrency)

        async def fetch(key: int, offset: int, limit: int, stats: ScanStats) -> PageResult[Any]:
            window = {"offset": offset, "limit": limit}
            page = await self.page("GET", path(key), window, decode, stats)
            return PageResult(page.data, page.total)

        scan: FanOutScan[int, Any] = FanOutScan(
            listings,
            fetch,
            key=item_id,
            page_size=page_size,
            concurrency=workers,
            listing_id=listing_id,
            noun=noun,
            whole=whole,
        )
        self._scans.add(scan)
        return scan

    def workers(self, concurrency: int | None) -> int:
        """Return a scan's concurrency: the given one, checked, or the client's."""
        if concurrency is None:
            return self._concurrency
        return check_positive_int("concurrency", concurrency)

    async def aclose(self) -> None:
        """Stop every scan this resource started; an unfinished one raises `ClientClosedError`."""
        for scan in list(self._scans):
            await scan.abort(
                ClientClosedError(
                    "the HelpCrunch client was closed before this scan ended: "
                    f"{scan.stats.items} items were read, the rest were not"
                )
            )


def item_id(item: Identified) -> int:
    """Return an item's id: the key by which every scan drops an item seen twice."""
    return item.id


class Identified(Protocol):
    """Any item with an integer ``id`` (every model of the API has one)."""

    @property
    def id(self) -> int:
        """The item's id."""
        ...


def list_params(
    offset: int, limit: int, sort: str | None, order: str, sorts: tuple[str, ...]
) -> dict[str, Any]:
    """Return a list window's checked parameters: offset, limit, sort (if any) and order."""
    params: dict[str, Any] = {"offset": check_offset(offset), "limit": check_limit(limit)}
    checked = check_sort(sort, optional=True, sorts=sorts)
    if checked is not None:
        params["sort"] = checked
    params["order"] = check_order(order)
    return params


def search_params(
    where: Iterable[Filter],
    *,
    resource: SearchResource,
    comparison: str,
    sort: str | None,
    order: str,
    offset: int,
    limit: int,
    sorts: tuple[str, ...],
) -> dict[str, Any]:
    """Return a search window's checked JSON body (filters checked against ``resource``)."""
    window = list_params(offset, limit, sort, order, sorts)
    return search_body(
        where,
        resource=resource,
        comparison=comparison,
        sort=window.get("sort"),
        order=window["order"],
        offset=window["offset"],
        limit=window["limit"],
    )
