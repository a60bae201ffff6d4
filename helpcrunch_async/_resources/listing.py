"""What every resource shares: an endpoint asked for one record, one window, or every window.

A resource is a short file of glue: each read method is a line over an
`Endpoint` (`endpoints`), which names the path, the decoder, the noun, the
sorts and the search. `Resource` does the rest: checks the window's arguments
(`list_page`, `search_page`), sends one request (`page`, `read`), or scans
every window through the shared scan engine (`scan_list`, `scan_search`,
`fan_out`). Every resource of a client holds the same `Caller`, so every
request of every resource draws on the client's one budget.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable as CollectionsIterable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

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
from helpcrunch_async._shell.scan import Scan

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Callable, Iterable, Mapping

    from helpcrunch_async._core.filters import Filter, SearchResource
    from helpcrunch_async._resources.endpoints import Endpoint, Page
    from helpcrunch_async._shell.caller import Caller
    from helpcrunch_async._shell.scan import FetchRange
    from helpcrunch_async._shell.stats import ScanStats

__all__ = [
    "Identified",
    "Resource",
    "Roster",
    "item_id",
    "list_params",
    "search_params",
]

T = TypeVar("T", bound="Identified")
P = TypeVar("P")
PageT = TypeVar("PageT", bound="Page[Any]")

# Search bodies hold only str, int, lists and dicts of them.
_ENCODER = msgspec.json.Encoder()


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

    async def read(self, endpoint: Endpoint[P], **path: object) -> P:
        """Return the one record ``endpoint`` answers with (``path`` fills its template)."""
        return await self._caller.call(endpoint.method, endpoint.url(**path), {}, endpoint.decode)

    async def list_page(
        self,
        endpoint: Endpoint[P],
        *,
        offset: int,
        limit: int,
        sort: str | None = None,
        order: str = "asc",
        stats: ScanStats | None = None,
        **path: object,
    ) -> P:
        """Return one page of a GET listing; the arguments are checked first (`list_params`).

        The request's costs are counted into ``stats`` when given (a scan's).
        """
        params = list_params(offset, limit, sort, order, endpoint.sorts)
        url = endpoint.url(**path)
        return await self.page(endpoint.method, url, params, endpoint.decode, stats)

    async def search_page(
        self,
        endpoint: Endpoint[P],
        where: Iterable[Filter],
        *,
        comparison: str,
        sort: str | None,
        order: str,
        offset: int,
        limit: int,
        stats: ScanStats | None = None,
    ) -> P:
        """Return one page of a search; every filter is checked first (`search_params`).

        The request's costs are counted into ``stats`` when given (a scan's).
        """
        body = search_params(
            where,
            endpoint,
            comparison=comparison,
            sort=sort,
            order=order,
            offset=offset,
            limit=limit,
        )
        return await self.page(endpoint.method, endpoint.path, body, endpoint.decode, stats)

    def scan_list(
        self,
        endpoint: Endpoint[Page[T]],
        *,
        sort: str | None = None,
        order: str = "asc",
        page_size: int,
        start: int,
        concurrency: int | None,
        recount: FetchRange[Any] | None = None,
        seen: Iterable[int] = (),
        **path: object,
    ) -> Scan[T]:
        """Return a scan of every item of a GET listing (see `scan`); arguments checked here."""
        params = list_params(0, page_size, sort, order, endpoint.sorts)
        return self.scan(
            endpoint,
            params,
            page_size=page_size,
            start=start,
            concurrency=concurrency,
            recount=recount,
            seen=seen,
            **path,
        )

    def scan_search(
        self,
        endpoint: Endpoint[Page[T]],
        where: Iterable[Filter],
        *,
        comparison: str,
        sort: str | None,
        order: str,
        page_size: int,
        start: int,
        concurrency: int | None,
        recount: Callable[[Mapping[str, Any]], FetchRange[Any]] | None = None,
        seen: Iterable[int] = (),
    ) -> Scan[T]:
        """Return a scan of every item a search finds (see `scan`); filters checked here.

        ``recount(body)`` reads the items of the checked search ``body`` by id
        range; it is used only under ``AND``, since an id range cannot narrow
        filters joined by ``OR``.
        """
        body = search_params(
            where,
            endpoint,
            comparison=comparison,
            sort=sort,
            order=order,
            offset=0,
            limit=page_size,
        )
        return self.scan(
            endpoint,
            body,
            page_size=page_size,
            start=start,
            concurrency=concurrency,
            recount=recount(body) if recount is not None and comparison == "AND" else None,
            seen=seen,
        )

    def scan(
        self,
        endpoint: Endpoint[Page[T]],
        params: Mapping[str, Any],
        *,
        page_size: int,
        start: int,
        concurrency: int | None,
        recount: FetchRange[Any] | None = None,
        seen: Iterable[int] = (),
        **path: object,
    ) -> Scan[T]:
        """Return a `Scan` of every window of ``endpoint``, each item at most once.

        ``params`` are one window's (their ``offset`` and ``limit`` are replaced
        for each window); items seen before are dropped by their ``id``.
        ``page_size``, ``start`` and ``concurrency`` (the client's when None)
        are checked here, before any request. ``recount`` reads the items by id
        range and ``seen`` are the ids before ``start`` (see `Scan`).
        """
        check_limit(page_size)
        check_offset(start)
        workers = self.workers(concurrency)
        noun = endpoint.noun
        if isinstance(seen, str | bytes) or not isinstance(seen, CollectionsIterable):
            raise InvalidParameterError(
                f"seen must be an iterable of {noun} ids, got {type(seen).__name__}"
            )
        url = endpoint.url(**path)

        async def fetch(offset: int, limit: int, stats: ScanStats) -> PageResult[T]:
            window = {**params, "offset": offset, "limit": limit}
            return await self.window(endpoint, window, stats, url=url)

        scan: Scan[T] = Scan(
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

    async def window(
        self,
        endpoint: Endpoint[Page[T]],
        params: Mapping[str, Any],
        stats: ScanStats,
        *,
        url: str | None = None,
    ) -> PageResult[T]:
        """Fetch a scan's window at ``url`` (None: the endpoint's path), costs into ``stats``.

        A window is decoded with the endpoint's ``window`` decoder, where a page
        may come without its count.
        """
        decode = endpoint.window or endpoint.decode
        path = endpoint.path if url is None else url
        page = await self.page(endpoint.method, path, params, decode, stats)
        return PageResult(page.data, page.total)

    def fan_out(
        self,
        listings: Iterable[Any] | AsyncIterable[Any],
        endpoint: Endpoint[Page[T]],
        *,
        listing_id: Callable[[Any], int],
        page_size: int,
        concurrency: int | None,
        whole: bool = False,
    ) -> FanOutScan[int, T]:
        """Return a fan-out over one GET listing per key: all of the first's items, then the next.

        ``endpoint``'s path takes the key as ``{id}`` (``/chats/{id}/messages``);
        ``listing_id`` turns what ``listings`` holds into a key, raising
        `InvalidParameterError` for what cannot be one; ``whole`` holds each
        listing's items until it is read to its end (see `FanOutScan`).
        """
        check_limit(page_size)
        workers = self.workers(concurrency)

        async def fetch(key: int, offset: int, limit: int, stats: ScanStats) -> PageResult[T]:
            window = {"offset": offset, "limit": limit}
            return await self.window(endpoint, window, stats, url=endpoint.url(id=key))

        scan: FanOutScan[int, T] = FanOutScan(
            listings,
            fetch,
            key=item_id,
            page_size=page_size,
            concurrency=workers,
            listing_id=listing_id,
            noun=endpoint.noun,
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
    """Return a list window's checked parameters: offset, limit, sort (if any) and order.

    A listing with no ``sorts`` is sent neither a sort nor an order.
    """
    params: dict[str, Any] = {"offset": check_offset(offset), "limit": check_limit(limit)}
    if not sorts:
        return params
    checked = check_sort(sort, optional=True, sorts=sorts)
    if checked is not None:
        params["sort"] = checked
    params["order"] = check_order(order)
    return params


def search_params(
    where: Iterable[Filter],
    endpoint: Endpoint[Any],
    *,
    comparison: str,
    sort: str | None,
    order: str,
    offset: int,
    limit: int,
) -> dict[str, Any]:
    """Return a search window's checked JSON body (filters checked against ``endpoint.search``)."""
    resource: SearchResource | None = endpoint.search
    assert resource is not None  # noqa: S101 -- only a search endpoint is searched
    window = list_params(offset, limit, sort, order, endpoint.sorts)
    return search_body(
        where,
        resource=resource,
        comparison=comparison,
        sort=window.get("sort"),
        order=window["order"],
        offset=window["offset"],
        limit=window["limit"],
    )


class Roster(Resource, Generic[PageT, T]):
    """A resource that is one listing, with no sorts: a page of it, or all of it.

    A subclass names its endpoint (``_endpoint = AGENTS``) and its page and item
    types (``Roster[AgentsPage, Agent]``).
    """

    _endpoint: Endpoint[PageT]

    async def list(self, *, offset: int = 0, limit: int = 100) -> PageT:
        """Return one page; ``total`` is None where the server sends no count."""
        return await self.list_page(self._endpoint, offset=offset, limit=limit)

    def iter_all(
        self, *, page_size: int = 100, start: int = 0, concurrency: int | None = None
    ) -> Scan[T]:
        """Return a scan of every item, in the server's order, each at most once.

        Where the server sends no count (old pages), it reads on until a short page.
        """
        return self.scan_list(
            self._endpoint, page_size=page_size, start=start, concurrency=concurrency
        )
