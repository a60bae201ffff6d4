"""The record stream of ``export messages``: list the chats, then read their messages.

The first run lists the chats (every chat of the account, oldest first by
``chats.createdAt``, or the ids of ``--chats``) into the frozen chat list (see
`chat_list`), and only then reads their messages with the fan-out of
``client.chats.iter_messages_of``: every message of the first chat, then of the
second, each chat's newest first, as the server orders them. A chat is whole
or absent: its messages are held until the chat is read to its end, so a chat
deleted while it is read (404 after its first page) writes none. When a
message of a later chat arrives, every chat before it is done (those without
messages, or deleted meanwhile, too), and the stream yields a `GroupDone`, so
the checkpoint can say how many chats are done. A resumed run skips those and
reads the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

import msgspec

from helpcrunch_async._export.chat_list import ChatListWriter, chat_list_path, read_list
from helpcrunch_async._export.checkpoint import ExportRefusedError
from helpcrunch_async._export.progress import Snapshot
from helpcrunch_async._export.stream import GroupDone
from helpcrunch_async._shell.stats import ScanStats

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator
    from types import TracebackType

    from helpcrunch_async._client import HelpCrunch
    from helpcrunch_async._export.checkpoint import ChatList
    from helpcrunch_async._export.stream import Run

__all__ = ["MessagesStream"]


class MessagesStream:
    """The messages of an export's chats, with a `GroupDone` after each whole chat."""

    def __init__(self, client: HelpCrunch, run: Run) -> None:
        self._client = client
        self._run = run
        self._listing: Any = None
        self._messages: Any = None
        self._chats: ChatList | None = run.chats
        self._position = run.position
        self._items = self._generate()
        # Before the first scan starts: nothing done, nothing spent.
        self._idle = ScanStats()

    @property
    def stats(self) -> ScanStats:
        """The costs of the phase running: listing the chats, then reading their messages."""
        scan = self._messages if self._messages is not None else self._listing
        if scan is None:
            return self._idle
        stats: ScanStats = scan.stats
        return stats

    def snapshot(self, records: int) -> Snapshot:
        """Chats done of the list (messages written beside), or chats listed so far."""
        if self._messages is None:
            listed = 0 if self._listing is None else self._listing.stats.items
            total = None if self._listing is None else self._listing.stats.total_at_end
            return Snapshot(listed, self.stats, total, "chats listed")
        assert self._chats is not None  # noqa: S101 -- set before the messages start
        return Snapshot(
            self._position, self.stats, self._chats.count, "chats", f"{records:,} messages"
        )

    def notes(self) -> list[str]:
        """Say how the chats were listed and how many were gone (deleted) and so not written."""
        notes = []
        if self._listing is not None:
            listing = self._listing.stats
            notes.append(f"chat list: {listing.customers:,} chats in {listing.requests:,} requests")
        if self._messages is not None:
            stats = self._messages.stats
            notes.append(
                f"chats done: {self._position:,} of {self._chats.count if self._chats else 0:,}"
                f"; {stats.not_found:,} deleted meanwhile and not written "
                f"({stats.cut_short:,} of them while their messages were being read)"
            )
        return notes

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        return await self._items.__anext__()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._items.aclose()
        for scan in (self._listing, self._messages):
            if scan is not None:
                await scan.aclose()

    async def _generate(self) -> AsyncGenerator[Any, None]:
        run = self._run
        path = chat_list_path(run.out)
        if self._chats is None:
            if run.position or run.records:
                raise ExportRefusedError(
                    f"the checkpoint of {run.out} counts messages but no chat list; "
                    "start over with --overwrite"
                )
            self._chats = await self._list_chats()
            if run.note_chats is not None:
                run.note_chats(self._chats)
        chats = self._chats
        scan = self._client.chats.iter_messages_of(
            read_list(path, chats, skip=run.position),
            page_size=run.settings.page_size,
            whole=True,
        )
        self._messages = scan
        # The same list again, to tell when a chat is whole: the fan-out yields every
        # message of a chat before the next chat's, so a message of a later chat
        # means that every chat before it is done (those without messages too).
        order = read_list(path, chats, skip=run.position)
        waiting = next(order, None)
        self._position = run.position
        async with scan:
            async for message in scan:
                chat = scan.current_listing
                while waiting is not None and waiting != chat:
                    self._position += 1
                    yield GroupDone(self._position)
                    waiting = next(order, None)
                if message.chat is None:
                    # A variant without `chat`: the fan-out knows whose message it is.
                    yield msgspec.structs.replace(message, chat=chat)
                else:
                    yield message
        if self._position < chats.count:
            self._position = chats.count
            yield GroupDone(chats.count)

    async def _list_chats(self) -> ChatList:
        run = self._run
        with ChatListWriter(chat_list_path(run.out)) as chat_list:
            if run.chat_ids is not None:
                for chat_id in run.chat_ids:
                    chat_list.add(chat_id)
            else:
                # Oldest first: a chat created during the export lands at the end.
                scan = self._client.chats.iter_all(
                    sort="chats.createdAt", order="asc", page_size=run.settings.page_size
                )
                self._listing = scan
                async with scan:
                    async for chat in scan:
                        chat_list.add(chat.id)
            return chat_list.commit()
