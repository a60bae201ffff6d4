"""The ``chats`` resource: list, get and search chats, and read their messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpcrunch_async._core.params import CHAT_SORTS, check_limit, check_offset, check_positive_int
from helpcrunch_async._models.chats import decode_chat, decode_chats_page
from helpcrunch_async._models.messages import decode_messages_page
from helpcrunch_async._resources.listing import Resource, list_params, search_params

if TYPE_CHECKING:
    from collections.abc import Iterable

    from helpcrunch_async._core.filters import Comparison, Filter
    from helpcrunch_async._core.params import ChatSort, Order
    from helpcrunch_async._models.chats import Chat, ChatsPage
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
