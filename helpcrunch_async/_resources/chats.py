"""The ``chats`` resource: list, get and search chats, and read their messages."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING

from helpcrunch_async._core.params import CHAT_SORTS, check_limit, check_offset, check_positive_int
from helpcrunch_async._errors import InvalidParameterError
from helpcrunch_async._models.chats import Chat, decode_chat, decode_chats_page, decode_chats_window
from helpcrunch_async._models.messages import Message, decode_messages_page
from helpcrunch_async._resources import changes
from helpcrunch_async._resources.listing import Resource, list_params, search_params
from helpcrunch_async._shell.scan import Scan

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from helpcrunch_async._core.filters import Comparison, Filter
    from helpcrunch_async._core.params import ChatSort, Order
    from helpcrunch_async._models.chats import ChatsPage
    from helpcrunch_async._models.messages import MessagesPage
    from helpcrunch_async._shell.fanout import FanOutScan

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
        return await self.page("GET", _messages_path(chat_id), params, decode_messages_page)

    def iter_all(
        self,
        *,
        sort: ChatSort | None = None,
        order: Order = "asc",
        page_size: int = 100,
        start: int = 0,
        concurrency: int | None = None,
        seen: Iterable[int] = (),
    ) -> Scan[Chat]:
        """Return a scan of every chat, in the server's order, each at most once.

        The same engine as ``customers.iter_all``: concurrent windows under the
        client's cap, reassembled in order, repaired when the total moves. A
        chat whose id is in ``seen`` (a resumed export's) is never yielded.
        Chat search has no id field, so a scan that knows it missed chats
        (served twice in place of others under a total that did not grow)
        cannot find them: it ends in `IncompleteScanError`.
        """
        params = list_params(0, page_size, sort, order, CHAT_SORTS)
        return self.scan(
            "GET",
            "/chats",
            params,
            decode_chats_page,
            kind=Scan[Chat],
            noun="chats",
            page_size=page_size,
            start=start,
            concurrency=concurrency,
            seen=seen,
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
        seen: Iterable[int] = (),
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
            noun="chats",
            page_size=page_size,
            start=start,
            concurrency=concurrency,
            seen=seen,
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
            _messages_path(chat_id),
            {},
            decode_messages_page,
            kind=Scan[Message],
            noun="messages",
            page_size=page_size,
            start=start,
            concurrency=concurrency,
        )

    def iter_messages_of(
        self,
        chats: Iterable[int | Chat] | AsyncIterable[int | Chat],
        *,
        page_size: int = 100,
        concurrency: int | None = None,
        whole: bool = False,
    ) -> FanOutScan[int, Message]:
        """Return a scan of the messages of many chats: every message of the first, then the next.

        ``chats`` holds chat ids or `Chat` objects: a list, any iterable, or an
        async iterable such as ``client.chats.iter_all()``, read only as far as
        the scan needs. The chats' pages are fetched concurrently under the
        client's one cap, and each chat's messages come in the server's order
        (newest first). A chat of one page costs one request; memory stays
        bounded however many chats there are. A chat named again is read
        once: each message comes once. A chat deleted meanwhile (404) is
        skipped and counted in ``stats.not_found`` (and in ``stats.cut_short``
        if it was gone after its first messages were read); with ``whole``,
        each chat's messages are held until the chat is read to its end, so a
        chat deleted part way yields none (memory then holds one chat). Any
        other error ends the scan. What is not ids nor chats (None, a number, a string) is an
        `InvalidParameterError` at once; so is a list or tuple with an id that is
        not a positive integer. An iterator's or async iterable's bad id is one
        when the scan reaches it, after the chats before it and before any
        request for it.
        """
        _check_chats(chats)
        if not isinstance(whole, bool):
            raise InvalidParameterError(f"whole must be True or False, got {whole!r:.40}")
        return self.fan_out(
            chats,
            _messages_path,
            decode_messages_page,
            listing_id=_chat_id,
            noun="messages",
            page_size=page_size,
            concurrency=concurrency,
            whole=whole,
        )

    def iter_changed(
        self,
        since: int,
        after_id: int | None = None,
        *,
        overlap: int = changes.DEFAULT_OVERLAP,
    ) -> AsyncIterator[Chat]:
        """Yield every chat opened, answered, closed or reassigned since ``since - overlap``.

        Each chat once, and every chat with an id above ``after_id``; see
        `changes.iter_changed_chats`.
        """
        return changes.iter_changed_chats(self, since, after_id, overlap=overlap)


def _check_chats(chats: object) -> None:
    """Refuse what cannot hold chats, and a list's or tuple's bad ids, before any request."""
    if isinstance(chats, str | bytes | bytearray) or not isinstance(
        chats, Iterable | AsyncIterable
    ):
        raise InvalidParameterError(
            "chats must be chat ids or Chat objects in a list, an iterable or an async "
            f"iterable, got {type(chats).__name__} {chats!r:.40}"
        )
    if isinstance(chats, list | tuple):
        for chat in chats:
            _chat_id(chat)


def _chat_id(chat: int | Chat) -> int:
    """Return a chat's id (a `Chat`'s, or the id itself), checked."""
    return check_positive_int("chat id", chat.id if isinstance(chat, Chat) else chat)


def _messages_path(chat_id: int) -> str:
    return f"/chats/{chat_id}/messages"
