"""What every resource shares: one paged endpoint asked for one window, or scanned whole.

A resource is a short file of glue: it names the path, the parameters, the
decoder and the id of an item, and leaves the asking to `Resource.page` (one
window, a GET query or a search's POST body) and `Resource.scan` (every window,
through the shared scan engine). Every resource of a client holds the same
`Caller`, so every request of every resource draws on the client's one budget.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import msgspec

from helpcrunch_async._core.filters import search_body
from helpcrunch_async._core.params import (
    check_limit,
    check_offset,
    check_order,
    check_positive_int,
    check_sort,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from helpcrunch_async._core.filters import Filter, SearchResource
    from helpcrunch_async._core.paging import ScanStats
    from helpcrunch_async._shell.caller import Caller

__all__ = ["Page", "Resource", "list_params", "search_params"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
P = TypeVar("P")

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
        self._scans: weakref.WeakSet[Any] = weakref.WeakSet()

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

    def workers(self, concurrency: int | None) -> int:
        """Return a scan's concurrency: the given one, checked, or the client's."""
        if concurrency is None:
            return self._concurrency
        return check_positive_int("concurrency", concurrency)

    async def aclose(self) -> None:
        """Close every scan this resource started that is still open."""
        for scan in list(self._scans):
            await scan.aclose()


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
