"""The ``customers`` resource: list, get, search, and scan all or a search's customers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from helpcrunch_async._core.filters import Filter
from helpcrunch_async._core.paging import PageResult
from helpcrunch_async._core.params import SORTS, check_positive_int
from helpcrunch_async._models.customers import (
    decode_customer,
    decode_page,
    decode_search_page,
    decode_search_window,
)
from helpcrunch_async._resources import changes
from helpcrunch_async._resources.listing import Resource, list_params, search_params
from helpcrunch_async._shell.scan import CustomerScan

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable, Mapping, Sequence

    from helpcrunch_async._core.filters import Comparison
    from helpcrunch_async._core.params import Order, Sort
    from helpcrunch_async._models.customers import Customer, CustomersPage
    from helpcrunch_async._shell.scan import FetchRange
    from helpcrunch_async._shell.stats import ScanStats

__all__ = ["Customers"]


class Customers(Resource):
    """``client.customers``: ``/customers``, ``/customers/{id}`` and ``/customers/search``."""

    async def list(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        sort: str | None = None,
        order: str = "asc",
    ) -> CustomersPage:
        """Return one page: ``total`` and up to ``limit`` (1..100) customers from ``offset``."""
        params = list_params(offset, limit, sort, order, SORTS)
        return await self.page("GET", "/customers", params, decode_page)

    async def get(self, customer_id: int) -> Customer:
        """Return one customer by id; `NotFoundError` if there is none."""
        check_positive_int("customer_id", customer_id)
        return await self._caller.call("GET", f"/customers/{customer_id}", {}, decode_customer)

    def iter_all(
        self,
        *,
        sort: str | None = None,
        order: str = "asc",
        page_size: int = 100,
        start: int = 0,
        concurrency: int | None = None,
        seen: Iterable[int] = (),
    ) -> CustomerScan:
        """Return a scan of every customer, in the server's order, each at most once.

        The first page learns ``total``; the remaining windows are fetched
        concurrently (``concurrency`` at most, the client's by default) and
        reassembled in order. ``start`` skips the first customers (resuming an
        export). A scan from offset 0 that knows it missed customers (served
        twice in place of others under a total that did not grow, as a sort
        with ties in another order on each request serves them) finds them by
        counting id ranges against the ids it yielded (about d·log2(N/100)
        requests for d missed among N) and yields them last; it ends in
        `IncompleteScanError` if the count still disagrees. A scan from
        ``start`` does so when ``seen`` holds the ids of the customers before
        it (a resumed export's); a customer whose id is in ``seen`` is never
        yielded. The scan is an
        async iterator and an async context manager; its ``stats`` tell what
        happened. Arguments are checked here, before any
        request. (``sort`` and ``order`` stay typed ``str`` here, as they were
        before `Sort` and `Order` existed, so callers passing ``str`` still type-check.)
        """
        params = list_params(0, page_size, sort, order, SORTS)
        return self.scan(
            "GET",
            "/customers",
            params,
            decode_page,
            kind=CustomerScan,
            noun="customers",
            page_size=page_size,
            start=start,
            concurrency=concurrency,
            recount=self._by_id_range(None),
            seen=seen,
        )

    def _by_id_range(self, body: Mapping[str, Any] | None) -> FetchRange[Customer]:
        """Return the reader of the customers a search ``body`` finds (all: None) in an id range.

        What a scan that missed customers counts and reads them with (see `Scan`).
        ``body`` is a checked search body joined by ``AND``.
        """
        base: Mapping[str, Any] = body if body is not None else {"filter": [], "order": "asc"}

        async def fetch(lo: int, hi: int, limit: int, stats: ScanStats) -> PageResult[Customer]:
            ids = (Filter("customers.id", ">=", lo), Filter("customers.id", "<", hi))
            window = {
                **base,
                "filter": [*base["filter"], *(f.wire for f in ids)],
                "comparison": "AND",
                "offset": 0,
                "limit": limit,
            }
            page = await self.page("POST", "/customers/search", window, decode_search_window, stats)
            return PageResult(page.data, page.total)

        return fetch

    async def search(
        self,
        where: Iterable[Filter],
        *,
        comparison: Comparison = "AND",
        sort: Sort | None = None,
        order: Order = "asc",
        offset: int = 0,
        limit: int = 100,
    ) -> CustomersPage:
        """Return one page of the customers matching ``where``, and how many match.

        ``where`` is a non-empty list of ``customers.*`` `Filter` objects, joined
        by ``comparison`` (``AND``: all, ``OR``: any); each is checked against
        customer search before any request. The count is read from ``total``
        or ``meta.total`` (the response is undocumented); a page with neither is
        a `DecodeError`.
        """
        body = search_params(
            where,
            resource="customers",
            comparison=comparison,
            sort=sort,
            order=order,
            offset=offset,
            limit=limit,
            sorts=SORTS,
        )
        return await self.page("POST", "/customers/search", body, decode_search_page)

    def iter_search(
        self,
        where: Iterable[Filter],
        *,
        comparison: Comparison = "AND",
        sort: Sort | None = None,
        order: Order = "asc",
        page_size: int = 100,
        start: int = 0,
        concurrency: int | None = None,
        seen: Iterable[int] = (),
    ) -> CustomerScan:
        """Return a scan of every customer matching ``where``, like `iter_all` over `search`.

        Filters are checked here, before any request. Should the server send no
        count with its pages, the scan reads on until a page comes back short.
        Under ``AND``, customers the scan missed are found by id range (see
        `iter_all`); under ``OR`` an id range cannot narrow the search, so such a
        scan ends in `IncompleteScanError`.
        """
        body = search_params(
            where,
            resource="customers",
            comparison=comparison,
            sort=sort,
            order=order,
            offset=0,
            limit=page_size,
            sorts=SORTS,
        )
        return self.scan(
            "POST",
            "/customers/search",
            body,
            decode_search_window,
            kind=CustomerScan,
            noun="customers",
            page_size=page_size,
            start=start,
            concurrency=concurrency,
            recount=self._by_id_range(body) if comparison == "AND" else None,
            seen=seen,
        )

    async def count(self, where: Sequence[Filter] | None = None) -> int:
        """Return how many customers match ``where`` (all of them if None), in one request."""
        return await changes.count_customers(self, where)

    def iter_changed(
        self,
        since: int,
        after_id: int | None = None,
        *,
        overlap: int = changes.DEFAULT_OVERLAP,
    ) -> AsyncIterator[Customer]:
        """Yield every customer seen since ``since - overlap`` or with an id above ``after_id``.

        Each customer once; see `changes.iter_changed_customers` for why a visit
        during the scan cannot make one slip past it.
        """
        return changes.iter_changed_customers(self, since, after_id, overlap=overlap)

    async def find_deleted(self, known_ids: Iterable[int]) -> changes.IdList:
        """Return which of ``known_ids`` the server no longer has, sorted, by counting id ranges.

        Costs on the order of d·log(N/100) requests for d deletions among N ids.
        """
        return await changes.find_deleted(self, known_ids)
