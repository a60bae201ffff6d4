"""The ``chats`` resource: list, get and search chats, and read their messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpcrunch_async._core.params import CHAT_SORTS, check_limit, check_offset, check_positive_int
from helpcrunch_async._models.chats import Chat, decode_chat, decode_chats_page, decode_chats_window
from helpcrunch_async._models.messages import Message, decode_messages_page
from helpcrunch_async._resources.listing import Resource, list_params, search_params
from helpcrunch_async._shell.scan import Scan

if TYPE_CHECKING:
    from collections.abc import Iterable

    from helpcrunch_async._core.filters import Comparison, Filter
    from helpcrunch_async._core.params import ChatSort, Order
    from helpcrunch_async._models.chats import ChatsPage
    from helpcrunch_async._models.messages import MessagesPage

__all__ = ["Chats"]


class Chats(Resource):
    """``client.chats``: the chats, chat search and each chat's messages."""

    async def list(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        sort: ChatSort | None = None,
        order: Order = "asc",
    ) -> ChatsPage:
        """Return one page: ``total`` (from ``meta.total``) and up to ``limit`` (1..100) chats."""
        params = list_params(offset, limit, sort, order, CHAT_SORTS)
        return await self.page("GET", "/chats", params, decode_chats_page)

    async def get(self, chat_id: int) -> Chat:
        """Return one chat by id; `NotFoundError` if there is none."""
        check_positive_int("chat_id", chat_id)
        return await self._caller.call("GET", f"/chats/{chat_id}", {}, decode_chat)

    async def search(
        self,
        where: Iterable[Filter],
        *,
        comparison: Comparison = "AND",
        sort: ChatSort | None = None,
        order: Order = "asc",
        offset: int = 0,
        limit: int = 100,
    ) -> ChatsPage:
        """Return one page of the chats matching ``where`` (``chats.*`` filters), and their total.

        ``comparison`` joins the filters (``AND``: all, ``OR``: any). Every
        filter is checked against chat search before any request.
        """
        body = search_params(
            where,
            resource="chats",
            comparison=comparison,
            sort=sort,
            order=order,
            offset=offset,
            limit=limit,
            sorts=CHAT_SORTS,
        )
        return await self.page("POST", "/chats/search", body, decode_chats_page)

    async def messages(self, chat_id: int, *, offset: int = 0, limit: int = 100) -> MessagesPage:
        """Return one page of a chat's messages, newest first, with their ``total``."""
        check_positive_int("chat_id", chat_id)
        params = {"offset": check_offset(offset), "limit": check_limit(limit)}
        return await self.page("GET", f"/chats/{chat_id}/messages", params, decode_messages_page)

    def iter_all(
        self,
        *,
        sort: ChatSort | None = None,
        order: Order = "asc",
        page_size: int = 100,
        start: int = 0,
        concurrency: int | None = None,
    ) -> Scan[Chat]:
        """Return a scan of every chat, in the server's order, each at most once.

        The same engine as ``customers.iter_all``: concurrent windows under the
        client's cap, reassembled in order, repaired when the total moves.
        """
        params = list_params(0, page_size, sort, order, CHAT_SORTS)
        return self.scan(
            "GET",
            "/chats",
            params,
            decode_chats_page,
            kind=Scan[Chat],
            page_size=page_size,
            start=start,
            concurrency=concurrency,
        )

    def iter_search(
        self,
        where: Iterable[Filter],
        *,
        comparison: Comparison = "AND",
        sort: ChatSort | None = None,
        order: Order = "asc",
        page_size: int = 100,
        start: int = 0,
        concurrency: int | None = None,
    ) -> Scan[Chat]:
        """Return a scan of every chat matching ``where``, like `iter_all` over `search`.

        Filters are checked here, before any request. Should the server send no
        count with its pages, the scan reads on until a page comes back short.
        """
        body = search_params(
            where,
            resource="chats",
            comparison=comparison,
            sort=sort,
            order=order,
            offset=0,
            limit=page_size,
            sorts=CHAT_SORTS,
        )
        return self.scan(
            "POST",
            "/chats/search",
            body,
            decode_chats_window,
            kind=Scan[Chat],
            page_size=page_size,
            start=start,
            concurrency=concurrency,
        )

    def iter_messages(
        self,
        chat_id: int,
        *,
        page_size: int = 100,
        start: int = 0,
        concurrency: int | None = None,
    ) -> Scan[Message]:
        """Return a scan of one chat's messages, newest first, each at most once.

        A message written during the scan shifts every later offset by one; the
        scan drops the repeats this causes and repairs the window boundaries, so
        no older message slips past.
        """
        check_positive_int("chat_id", chat_id)
        return self.scan(
            "GET",
            f"/chats/{chat_id}/messages",
            {},
            decode_messages_page,
            kind=Scan[Message],
            page_size=page_size,
            start=start,
            concurrency=concurrency,
        )
