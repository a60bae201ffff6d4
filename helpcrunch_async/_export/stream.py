"""What an export reads, as the writer sees it: records in order, and where groups end.

A source opens a `RecordStream` for one `Run`: an async iterator of records
that the writer appends one by one. A kind whose records come in groups
(``messages``, by chat) also yields a `GroupDone` after each whole group; its
resume starts after the last group whose every record is committed. Offset-paged
kinds resume at offset ``records``; `ScanStream` is one of their scans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Self

from helpcrunch_async._export.progress import Snapshot

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from types import TracebackType

    from helpcrunch_async._export.checkpoint import ChatList, ExportSettings
    from helpcrunch_async._shell.stats import ScanStats

__all__ = ["GroupDone", "RecordStream", "Run", "ScanStream"]


@dataclass(frozen=True, slots=True)
class GroupDone:
    """Every record before this point is whole: ``position`` groups are done."""

    position: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """What a source needs to open one run's stream: its settings and where it starts.

    ``records`` are in the file already and ``position`` groups are done. A
    messages export also gets its chat list's record (``chats``, None until the
    list is whole), the ids of ``--chats`` (None: every chat) and
    ``note_chats``, which records a finished list in the checkpoint.
    """

    settings: ExportSettings
    out: Path
    records: int = 0
    position: int = 0
    chats: ChatList | None = None
    chat_ids: tuple[int, ...] | None = None
    note_chats: Callable[[ChatList], None] | None = None


class RecordStream(Protocol):
    """The records of one export run, in order; closing it cancels its requests."""

    @property
    def stats(self) -> ScanStats:
        """What the run's requests cost so far (requests, retries, 429s, totals)."""
        ...

    def snapshot(self, records: int) -> Snapshot:
        """Say where the run is, for the progress line, with ``records`` in the file."""
        ...

    def notes(self) -> list[str]:
        """Return what the summary should say beyond the costs (nothing for a plain scan)."""
        ...

    def __aiter__(self) -> Self:
        """Iterate the records (and, for grouped kinds, a `GroupDone` after each group)."""
        ...

    async def __anext__(self) -> Any:
        """Return the next record or `GroupDone`."""
        ...

    async def __aenter__(self) -> Self:
        """Return the stream itself."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Cancel every request still in flight."""
        ...


class ScanStream:
    """An offset-paged scan as a `RecordStream`: the total is the server's latest."""

    def __init__(self, scan: Any, noun: str) -> None:
        self._scan = scan
        self._noun = noun

    @property
    def stats(self) -> ScanStats:
        stats: ScanStats = self._scan.stats
        return stats

    def snapshot(self, records: int) -> Snapshot:
        stats = self.stats
        return Snapshot(records, stats, stats.total_at_end, self._noun)

    def notes(self) -> list[str]:
        return []

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        return await self._scan.__anext__()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._scan.aclose()
