"""What the sync's reads (`reads`) ask of the resources they are given: two protocols.

``client.customers`` is a `ReadableCustomers` and ``client.chats`` a
`ReadableChats`; the reads name only these, so they import no resource while the
resources delegate their ``count``, ``iter_changed`` and ``find_deleted`` to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from helpcrunch_async._core.filters import Comparison, Filter
    from helpcrunch_async._core.params import ChatSort, Order, Sort
    from helpcrunch_async._models.chats import Chat, ChatsPage
    from helpcrunch_async._models.customers import Customer, CustomersPage
    from helpcrunch_async._shell.scan import Scan
    from helpcrunch_async._shell.stats import ScanStats

__all__ = ["ReadableChats", "ReadableCustomers"]

P = TypeVar("P")


class ReadableCustomers(Protocol):
    """The customer reads a sync makes: a page, a search, a scan of a search, a lookup by id."""

    def workers(self, concurrency: int | None) -> int:
        """Return a scan's concurrency: the given one, checked, or the client's."""
        ...

    async def list(
        self, *, offset: int = 0, limit: int = 100, sort: Sort | None = None, order: Order = "asc"
    ) -> CustomersPage:
        """Return one page of ``GET /customers``."""
        ...

    async def search(
        self,
        where: Iterable[Filter],
        *,
        comparison: Comparison = "AND",
        sort: Sort | None = None,
        order: Order = "asc",
        offset: int = 0,
        limit: int = 100,
        stats: ScanStats | None = None,
    ) -> CustomersPage:
        """Return one page of a customer search."""
        ...

    def iter_search(
        self,
        where: Iterable[Filter],
        *,
        comparison: Comparison = "AND",
        sort: Sort | None = None,
        order: Order = "asc",
    ) -> Scan[Customer]:
        """Return a scan of every customer the search matches."""
        ...

    async def lookup(
        self, by: Literal["id"], keys: Sequence[int]
    ) -> dict[int | str, builtins.list[Customer]]:
        """Return the customers of each key (an empty list: none)."""
        ...


class ReadableChats(Protocol):
    """The chat reads a sync makes: a page, a search, one chat, one window of any endpoint."""

    def workers(self, concurrency: int | None) -> int:
        """Return a scan's concurrency: the given one, checked, or the client's."""
        ...

    async def list(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        sort: ChatSort | None = None,
        order: Order = "asc",
        stats: ScanStats | None = None,
    ) -> ChatsPage:
        """Return one page of ``GET /chats``."""
        ...

    async def search(
        self,
        where: Iterable[Filter],
        *,
        comparison: Comparison = "AND",
        sort: ChatSort | None = None,
        order: Order = "asc",
        offset: int = 0,
        limit: int = 100,
        stats: ScanStats | None = None,
    ) -> ChatsPage:
        """Return one page of a chat search."""
        ...

    async def get(self, chat_id: int) -> Chat:
        """Return one chat."""
        ...

    async def page(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        decode: Callable[[bytes], P],
        stats: ScanStats | None = None,
    ) -> P:
        """Send one request for one window and return what ``decode`` makes of its answer."""
        ...
