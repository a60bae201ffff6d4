"""The ``customers`` resource: list one page, get one customer, scan them all."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from helpcrunch_async._core.params import (
    check_limit,
    check_offset,
    check_order,
    check_positive_int,
    check_sort,
)
from helpcrunch_async._models.customers import Customer, CustomersPage, decode_customer, decode_page
from helpcrunch_async._shell.scan import CustomerScan, PageResult

if TYPE_CHECKING:
    from helpcrunch_async._core.paging import ScanStats
    from helpcrunch_async._shell.caller import Caller

__all__ = ["Customers"]


class Customers:
    """``client.customers``: the ``/customers`` endpoints."""

    def __init__(self, caller: Caller, *, concurrency: int) -> None:
        self._caller = caller
        self._concurrency = concurrency
        self._scans: weakref.WeakSet[CustomerScan] = weakref.WeakSet()

    async def list(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        sort: str | None = None,
        order: str = "asc",
    ) -> CustomersPage:
        """Return one page: ``total`` and up to ``limit`` (1..100) customers from ``offset``."""
        query = _query(check_offset(offset), check_limit(limit), sort, order)
        return await self._caller.call("GET", "/customers", query, decode_page)

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
    ) -> CustomerScan:
        """Return a scan of every customer, in the server's order, each at most once.

        The first page learns ``total``; the remaining windows are fetched
        concurrently (``concurrency`` at most, the client's by default) and
        reassembled in order. ``start`` skips the first customers (resuming an
        export). The scan is an async iterator and an async context manager;
        its ``stats`` tell what happened. Arguments are checked here, before any
        request.
        """
        query_base = _query(0, check_limit(page_size), sort, order)
        check_offset(start)
        workers = (
            self._concurrency
            if concurrency is None
            else check_positive_int("concurrency", concurrency)
        )

        async def fetch(offset: int, limit: int, stats: ScanStats) -> PageResult[Customer]:
            query = {**query_base, "offset": offset, "limit": limit}
            page = await self._caller.call("GET", "/customers", query, decode_page, stats)
            return PageResult(page.data, page.total)

        scan = CustomerScan(
            fetch, key=_customer_id, page_size=page_size, concurrency=workers, start=start
        )
        self._scans.add(scan)
        return scan

    async def aclose(self) -> None:
        """Close every scan this resource started that is still open."""
        for scan in list(self._scans):
            await scan.aclose()


def _customer_id(customer: Customer) -> int:
    return customer.id


def _query(offset: int, limit: int, sort: str | None, order: str) -> dict[str, str | int]:
    query: dict[str, str | int] = {"offset": offset, "limit": limit}
    checked = check_sort(sort, optional=True)
    if checked is not None:
        query["sort"] = checked
    query["order"] = check_order(order)
    return query
