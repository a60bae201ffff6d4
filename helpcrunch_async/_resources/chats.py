"""The ``chats`` resource: list, get and search chats, read their messages, and write them.

Writes: ``create`` (read back by customer and creation time should its answer be
lost), the updates (``set_status``, ``assign``, ``unassign``, ``set_department``,
``snooze``, ``rate``, ``mark_read``: ``PUT /chats/<what>`` with the chat id in the
body, each safe to repeat), and ``send_message`` (read back by chat, text, author
and creation time). See `_core.writes` for the rules.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING

from helpcrunch_async._core.filters import Filter
from helpcrunch_async._core.params import check_positive_int
from helpcrunch_async._core.write_params import (
    Reader,
    chat_body,
    check_rating,
    check_reader,
    check_snooze,
    check_status,
    message_body,
)
from helpcrunch_async._core.writes import CLOCK_SKEW, created_within
from helpcrunch_async._errors import InvalidParameterError
from helpcrunch_async._models.chats import Chat
from helpcrunch_async._resources.endpoints import (
    CHAT,
    CHAT_CREATE,
    CHAT_SEARCH,
    CHAT_UPDATE,
    CHATS,
    MESSAGE_CREATE,
    MESSAGES,
)
from helpcrunch_async._resources.listing import Resource
from helpcrunch_async._resources.writing import Sender
from helpcrunch_async._sync import reads as changes

if TYPE_CHECKING:
    from datetime import datetime

    from helpcrunch_async._core.filters import Comparison
    from helpcrunch_async._core.params import ChatSort, Order
    from helpcrunch_async._models.chats import ChatsPage
    from helpcrunch_async._models.messages import Message, MessagesPage
    from helpcrunch_async._shell.caller import Caller
    from helpcrunch_async._shell.fanout import FanOutScan
    from helpcrunch_async._shell.scan import Scan
    from helpcrunch_async._shell.stats import ScanStats
    from helpcrunch_async._shell.stream import StreamScan

__all__ = ["Chats"]


class Chats(Resource):
    """``client.chats``: the chats, chat search, each chat's messages, and the writes."""

    def __init__(self, caller: Caller, *, concurrency: int) -> None:
        """Read and write through ``caller``; scans run ``concurrency`` requests at once."""
        super().__init__(caller, concurrency=concurrency)
        self._writes = Sender(caller)

    async def list(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        sort: ChatSort | None = None,
        order: Order = "asc",
        stats: ScanStats | None = None,
    ) -> ChatsPage:
        """Return one page: ``total`` (from ``meta.total``) and up to ``limit`` (1..100) chats.

        The request's costs are counted into ``stats`` when given.
        """
        return await self.list_page(
            CHATS, offset=offset, limit=limit, sort=sort, order=order, stats=stats
        )

    async def get(self, chat_id: int) -> Chat:
        """Return one chat by id; `NotFoundError` if there is none."""
        return await self.read(CHAT, id=check_positive_int("chat_id", chat_id))

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
        """Return one page of the chats matching ``where`` (``chats.*`` filters), and their total.

        ``comparison`` joins the filters (``AND``: all, ``OR``: any). Every
        filter is checked against chat search before any request. The
        request's costs are counted into ``stats`` when given.
        """
        return await self.search_page(
            CHAT_SEARCH,
            where,
            comparison=comparison,
            sort=sort,
            order=order,
            offset=offset,
            limit=limit,
            stats=stats,
        )

    async def messages(self, chat_id: int, *, offset: int = 0, limit: int = 100) -> MessagesPage:
        """Return one page of a chat's messages, newest first, with their ``total``."""
        chat = check_positive_int("chat_id", chat_id)
        return await self.list_page(MESSAGES, offset=offset, limit=limit, id=chat)

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
        return self.scan_list(
            CHATS,
            sort=sort,
            order=order,
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
        return self.scan_search(
            CHAT_SEARCH,
            where,
            comparison=comparison,
            sort=sort,
            order=order,
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
        chat = check_positive_int("chat_id", chat_id)
        return self.scan_list(
            MESSAGES, page_size=page_size, start=start, concurrency=concurrency, id=chat
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
            MESSAGES,
            listing_id=_chat_id,
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
    ) -> StreamScan[Chat]:
        """Return a scan of each chat changed since ``since - overlap``.

        Changed: opened, answered, closed or reassigned. Each chat once, and
        every chat with an id above ``after_id``; see `changes.iter_changed_chats`.
        The scan is an async iterator and an async context manager; its
        ``stats`` count the requests, pages and chats.
        """
        return changes.iter_changed_chats(self, since, after_id, overlap=overlap)

    # -- writes ------------------------------------------------------------------------

    async def create(
        self,
        *,
        customer: int,
        application: int,
        assignee: int | None = None,
        department: int | None = None,
    ) -> Chat:
        """Open a chat for ``customer`` in ``application`` (see ``client.applications``).

        The chat starts ``empty`` (the docs advise against leaving it so: send a
        message). Should the answer be lost, the customer's chats created since
        it was sent are read rather than sending it twice.
        """
        body = chat_body(customer, application, assignee, department)

        async def find(sent: float, _now: float) -> list[Chat]:
            since = math.floor(sent - CLOCK_SKEW)
            where = [
                Filter("chats.customer", "=", customer),
                Filter("chats.createdAt", ">=", since),
            ]
            page = await self.search(where, limit=100)
            return [
                chat
                for chat in page.data
                if created_within(chat.created_at, sent=sent)
                and chat.application_id in (None, application)
            ]

        return await self._writes.send(CHAT_CREATE, body, find=find)

    async def _update(self, action: str, chat_id: int, **fields: object) -> Chat:
        body = {"id": check_positive_int("chat_id", chat_id), **fields}
        return await self._writes.send(CHAT_UPDATE, body, action=action)

    async def set_status(self, chat_id: int, status: str) -> Chat:
        """Set a chat's status; every spelling the docs use is taken.

        ``new``, ``opened`` (``open``), ``pending``, ``onhold`` (``on hold``,
        ``on-hold``), ``no communication`` or ``closed``; anything else is
        refused before any request.
        """
        return await self._update("status", chat_id, status=check_status(status))

    async def assign(self, chat_id: int, agent_id: int) -> Chat:
        """Assign a chat to the agent ``agent_id``."""
        return await self._update(
            "assignee", chat_id, assignee=check_positive_int("agent_id", agent_id)
        )

    async def unassign(self, chat_id: int) -> Chat:
        """Leave a chat with no assignee."""
        return await self._update("assignee", chat_id, assignee=None)

    async def set_department(self, chat_id: int, department_id: int | None) -> Chat:
        """Move a chat to the department ``department_id`` (None: to none)."""
        if department_id is not None:
            check_positive_int("department_id", department_id)
        return await self._update("department", chat_id, department=department_id)

    async def snooze(self, chat_id: int, until: datetime | int | None) -> Chat:
        """Snooze a chat until ``until`` (an aware datetime or unix seconds); None unsnoozes."""
        return await self._update("snooze", chat_id, snoozedUntil=check_snooze(until))

    async def rate(self, chat_id: int, rating: str) -> Chat:
        """Rate a chat: ``perfect``, ``great``, ``average``, ``poor`` or ``very poor``.

        The server takes it only for a closed chat, not yet rated, with an
        agent's message (else `BadRequestError`).
        """
        return await self._update("rate", chat_id, rating=check_rating(rating))

    async def mark_read(self, chat_id: int, *, by: Reader) -> Chat:
        """Mark a chat read ``by`` the ``agent`` or the ``customer``."""
        return await self._update(check_reader(by), chat_id, read=True)

    async def send_message(
        self, chat_id: int, text: str, *, agent: int | None = None, private: bool = False
    ) -> Message:
        """Post ``text`` to a chat as the agent ``agent`` (None: as the customer).

        ``private`` makes it a note only agents see (an agent's only). Should
        the answer be lost, the chat's newest messages are read for this text,
        author and time rather than posting it twice.
        """
        body = message_body(chat_id, text, agent, private)

        async def find(sent: float, _now: float) -> list[Message]:
            page = await self.messages(chat_id, limit=100)
            return [
                message
                for message in page.data
                if message.text == text
                and message.type == body["type"]
                and (message.agent.id if message.agent else None) == agent
                and created_within(message.created_at, sent=sent)
            ]

        return await self._writes.send(MESSAGE_CREATE, body, find=find)


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
