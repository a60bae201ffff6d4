"""Tiny aiohttp.web servers on loopback that serve offset-paged lists, honestly or not.

Each path serves one `Listing`: rows of ids in the server's order, with a total
(or none), and the ways a real or hostile server bends the rules: a smaller
page than asked for, nothing past some offset, a made-up total, a 404. Every
request is logged at arrival as ``(path, offset, limit)``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import aiohttp
from aiohttp import web

from helpcrunch_async import NotFoundError
from helpcrunch_async._shell.scan import PageResult

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import TracebackType

    from helpcrunch_async import ScanStats


@dataclass
class Listing:
    """What one path serves.

    ``rows`` are the ids in order (tests may change them mid-scan); ``total``
    gives the total to report (default: the number of rows; return None to
    report none, as the old agents endpoint does). ``max_page`` caps what one
    page serves, ``served_until`` serves nothing at or past that offset,
    ``status`` answers every request with that status instead, ``list_key``
    names the list, and ``total_key`` the place of the total (``total`` at the
    top level, or ``meta`` for ``meta.total``).
    """

    rows: list[int]
    total: Callable[[Listing], int | None] = field(default=lambda listing: len(listing.rows))
    max_page: int | None = None
    served_until: int | None = None
    status: int | None = None
    list_key: str = "data"
    total_key: str = "total"
    latency: float = 0.0
    # Called at each request's arrival, before it is answered (to change rows).
    on_request: Callable[[Listing, int, int], None] | None = None

    def page(self, offset: int, limit: int) -> dict[str, Any]:
        """Return the body for one request."""
        if self.on_request is not None:
            self.on_request(self, offset, limit)
        served = min(limit, self.max_page) if self.max_page is not None else limit
        end = offset + served
        if self.served_until is not None:
            end = min(end, self.served_until)
        rows = self.rows[offset:end] if end > offset else []
        body: dict[str, Any] = {self.list_key: [{"id": i} for i in rows]}
        total = self.total(self)
        if total is not None:
            if self.total_key == "meta":
                body["meta"] = {"total": total}
            else:
                body["total"] = total
        return body


class PageServer:
    """Serve ``listings`` (by path, ``/v1/...``; any mapping) on a free loopback port."""

    def __init__(self, listings: Mapping[str, Listing]) -> None:
        self.listings = listings
        self.log: list[tuple[str, int, int]] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]  # a Server
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def requests_to(self, path: str) -> list[tuple[int, int]]:
        """The ``(offset, limit)`` of every request to ``path``, in arrival order."""
        return [(offset, limit) for p, offset, limit in self.log if p == path]

    async def _handle(self, request: web.Request) -> web.Response:
        listing = self.listings.get(request.path)
        offset = int(request.query.get("offset", "0"))
        limit = int(request.query.get("limit", "100"))
        self.log.append((request.path, offset, limit))
        if listing is None:
            return web.json_response({"errors": [{"code": "not_found"}]}, status=404)
        if listing.latency:
            await asyncio.sleep(listing.latency)
        if listing.status is not None:
            return web.json_response({"errors": [{"code": "error"}]}, status=listing.status)
        return web.json_response(listing.page(offset, limit))


def page_fetcher(
    session: aiohttp.ClientSession, url: str, *, list_key: str = "data"
) -> Callable[[int, int, ScanStats], Any]:
    """Return a scan's ``fetch_page`` that GETs ``url`` with offset and limit, plainly.

    No retries and no cap: the scan's own logic is under test, and each request
    counts one in the stats, as the client's caller counts it.
    """
    fetch_listing = listing_fetcher(
        session, url.replace("{", "{{").replace("}", "}}"), list_key=list_key
    )

    async def fetch(offset: int, limit: int, stats: ScanStats) -> PageResult[int]:
        page: PageResult[int] = await fetch_listing(None, offset, limit, stats)
        return page

    return fetch


def listing_fetcher(
    session: aiohttp.ClientSession, url: str, *, list_key: str = "data"
) -> Callable[[Any, int, int, ScanStats], Any]:
    """Return a fan-out's ``fetch_page(key, offset, limit, stats)``: GET ``url.format(key)``.

    A 404 raises `NotFoundError`, any other error status aiohttp's error.
    """

    async def fetch(key: Any, offset: int, limit: int, stats: ScanStats) -> PageResult[int]:
        stats.requests += 1
        target = url.format(key)
        async with session.get(target, params={"offset": offset, "limit": limit}) as response:
            if response.status == 404:
                raise NotFoundError(f"404 for {target}", status=404)
            response.raise_for_status()
            body = await response.json()
        total = body.get("total", body.get("meta", {}).get("total"))
        return PageResult([row["id"] for row in body[list_key]], total)

    return fetch
