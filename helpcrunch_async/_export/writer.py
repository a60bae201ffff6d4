"""Crash-safe export files: whole records appended in batches, then a checkpoint.

The rule that makes a crash harmless: a batch of whole records is appended to
the output, flushed and fsynced, and only THEN is the checkpoint beside it
(see `checkpoint`) replaced. So the checkpoint never claims a byte that is not
on disk. Whatever lies past the checkpoint's byte length (a torn record from a
kill -9 or a power cut, or whole records the checkpoint did not reach) is cut
off by a resume, which then fetches those records again from offset ``records``.

What is written is opened without following a symbolic link, and a resume
checks that the output is the very file the checkpoint vouches for (its device
and inode) and that the checkpoint's numbers agree with the file's bytes (they
end on a record boundary and hold that many records), so a planted link, a
replaced file or a hand-edited checkpoint is refused instead of written through.

This module does no network I/O and imports neither aiohttp nor asyncio.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Self

from helpcrunch_async._export.checkpoint import (
    ChatList,
    Checkpoint,
    ExportRefusedError,
    ExportSettings,
    Mark,
    check_same,
    checkpoint_path,
    fsync_dir,
    read_checkpoint,
    write_checkpoint,
)
from helpcrunch_async._export.encoders import RecordEncoder, encoder_for
from helpcrunch_async._export.framing import count_records

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

__all__ = ["ExportWriter"]

# Writes always land at the end; no link is followed; no descriptor leaks into a child.
_FLAGS: Final = os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_CHUNK: Final = 1 << 20
_START_OVER: Final = "start over with --overwrite"


@dataclass(slots=True)
class _Batch:
    chunks: list[bytes]
    records: int = 0
    size: int = 0
    # The latest group end in this batch, or since the last commit.
    mark: Mark | None = None


class ExportWriter:
    """Append whole records to the output and keep its checkpoint current.

    Open one with `create` (a new export) or `resume`; `write` each record;
    `finish` when the scan is complete, or `close` to stop where it is (every
    record written so far is committed). A batch is committed when it holds
    ``batch_records`` records or is ``batch_seconds`` old. The output is locked
    while open, so two exports cannot write one file.

    A grouped export (``grouped=True`` at `create`) also calls `mark` after each
    whole group; its resume cuts the file back to the last committed mark, and
    `position` says how many groups are done.
    """

    def __init__(
        self,
        out: Path,
        file: BinaryIO,
        checkpoint: Checkpoint,
        encoder: RecordEncoder,
        *,
        batch_records: int,
        batch_seconds: float,
    ) -> None:
        self.out = out
        self.checkpoint = checkpoint
        self._checkpoint_path = checkpoint_path(out)
        self._file = file
        self._encoder = encoder
        self._batch = _Batch([])
        self._batch_records = batch_records
        self._batch_seconds = batch_seconds
        self._batch_started = time.monotonic()

    @classmethod
    def create(
        cls,
        out: Path,
        settings: ExportSettings,
        *,
        overwrite: bool,
        grouped: bool = False,
        batch_records: int = 1000,
        batch_seconds: float = 1.0,
    ) -> Self:
        """Start a new export into ``out``; refuse an existing file unless ``overwrite``.

        An existing file that an earlier run of this tool created but wrote no
        record into (its first request failed, say, on a wrong key) is taken
        over, as there is nothing in it to lose.
        """
        _refuse_non_file(out)
        take_over = overwrite or _not_started(out)
        flags = os.O_WRONLY | os.O_CREAT | _FLAGS | (0 if take_over else os.O_EXCL)
        try:
            fd = os.open(out, flags, 0o644)
        except FileExistsError:
            raise ExportRefusedError(
                f"{out} exists; pass --resume to continue that export or --overwrite to start over"
            ) from None
        except OSError as exc:
            _refuse_link(exc, out)
            raise
        file = os.fdopen(fd, "ab")
        try:
            _lock(file, out)
            _check_regular(file, out)
            # Checkpoint first: a crash between the two must not pair an old
            # checkpoint with an emptied file.
            with contextlib.suppress(FileNotFoundError):
                checkpoint_path(out).unlink()
            file.truncate(0)
            fsync_dir(out)
            encoder = encoder_for(settings)
            identity = os.fstat(file.fileno())
            checkpoint = Checkpoint(
                settings=settings, device=identity.st_dev, inode=identity.st_ino
            )
            writer = cls(
                out,
                file,
                checkpoint,
                encoder,
                batch_records=batch_records,
                batch_seconds=batch_seconds,
            )
            header = encoder.header()
            if grouped:
                checkpoint.mark = Mark(bytes=len(header))
            writer._append(header, records=0)
        except BaseException:
            file.close()
            raise
        return writer

    @classmethod
    def resume(
        cls,
        out: Path,
        settings: ExportSettings,
        *,
        grouped: bool = False,
        check: Callable[[Checkpoint], None] | None = None,
        batch_records: int = 1000,
        batch_seconds: float = 1.0,
    ) -> Self:
        """Continue the export in ``out``: check it against its checkpoint, cut it there.

        With neither the output nor its checkpoint present, start a new export
        (``grouped`` as given), so a scheduler may always pass ``--resume``.
        ``check`` may refuse the checkpoint too (the kind's own files beside it),
        before anything is cut.
        """
        _refuse_non_file(out)
        cp_path = checkpoint_path(out)
        checkpoint = read_checkpoint(cp_path)
        if checkpoint is None:
            if os.path.lexists(out):
                raise ExportRefusedError(
                    f"{out} exists but has no checkpoint ({cp_path.name}), so nothing tells "
                    f"how much of it is complete; {_START_OVER}"
                )
            return cls.create(
                out,
                settings,
                overwrite=False,
                grouped=grouped,
                batch_records=batch_records,
                batch_seconds=batch_seconds,
            )
        check_same(checkpoint.settings, settings, out)
        try:
            fd = os.open(out, os.O_RDWR | _FLAGS)
        except FileNotFoundError:
            raise ExportRefusedError(
                f"{out} is gone but its checkpoint remains; {_START_OVER}"
            ) from None
        except OSError as exc:
            _refuse_link(exc, out)
            raise
        file = os.fdopen(fd, "r+b")
        encoder = encoder_for(settings)
        try:
            _lock(file, out)
            _check_regular(file, out)
            _check_identity(file, checkpoint, out)
            _check_contents(file, checkpoint, encoder, out)
            if check is not None:
                check(checkpoint)
            _back_to_mark(file, checkpoint, out, grouped=grouped)
            # Whatever lies past the checkpoint may be torn: drop it.
            file.truncate(checkpoint.bytes)
            os.fsync(file.fileno())
        except BaseException:
            file.close()
            raise
        return cls(
            out,
            file,
            checkpoint,
            encoder,
            batch_records=batch_records,
            batch_seconds=batch_seconds,
        )

    @property
    def records(self) -> int:
        """Records written, committed or not."""
        return self.checkpoint.records + self._batch.records

    @property
    def position(self) -> int:
        """Groups done and committed, for a grouped export (0 otherwise)."""
        mark = self.checkpoint.mark
        return 0 if mark is None else mark.position

    def write(self, record: Any) -> None:
        """Add one record; commit the batch when it is big or old enough."""
        batch = self._batch
        if not batch.records and batch.mark is None:
            self._batch_started = time.monotonic()
        chunk = self._encoder.encode(record)
        batch.chunks.append(chunk)
        batch.records += 1
        batch.size += len(chunk)
        self._commit_if_due()

    def mark(self, position: int) -> None:
        """Note that ``position`` groups are done: every record written so far is whole."""
        batch = self._batch
        if not batch.records and batch.mark is None:
            self._batch_started = time.monotonic()
        batch.mark = Mark(
            position=position, records=self.records, bytes=self.checkpoint.bytes + batch.size
        )
        self._commit_if_due()

    def _commit_if_due(self) -> None:
        batch = self._batch
        if (
            batch.records >= self._batch_records
            or time.monotonic() - self._batch_started >= self._batch_seconds
        ):
            self.commit()

    def commit(self) -> None:
        """Append the batch, fsync it, then move the checkpoint past it."""
        batch = self._batch
        if batch.records or batch.mark is not None:
            self._batch = _Batch([])
            if batch.mark is not None:
                # Written with the data it vouches for, after that data is on disk.
                self.checkpoint.mark = batch.mark
            self._append(b"".join(batch.chunks), records=batch.records)

    def note_chats(self, chats: ChatList) -> None:
        """Record a messages export's chat list, once it is whole on disk."""
        self.checkpoint.chats = chats
        write_checkpoint(self._checkpoint_path, self.checkpoint)

    def finish(self) -> None:
        """Commit the rest, mark the export complete, and close the file."""
        self.commit()
        self.checkpoint.complete = True
        write_checkpoint(self._checkpoint_path, self.checkpoint)
        self._file.close()

    def close(self) -> None:
        """Commit every whole record written so far and close the file."""
        if self._file.closed:
            return
        try:
            self.commit()
        finally:
            self._file.close()

    def _append(self, data: bytes, *, records: int) -> None:
        file = self._file
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
        self.checkpoint.records += records
        # The file's own size, not a running sum: the checkpoint vouches for what is on disk.
        self.checkpoint.bytes = os.fstat(file.fileno()).st_size
        write_checkpoint(self._checkpoint_path, self.checkpoint)


def _refuse_non_file(out: Path) -> None:
    """Refuse at once an output that is a directory, a link or anything but a file."""
    try:
        mode = os.lstat(out).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        raise ExportRefusedError(
            f"--out {out} is a directory; name a file, for example {out / 'export.jsonl'}"
        )
    if stat.S_ISLNK(mode):
        raise ExportRefusedError(
            f"{out} is a symbolic link; the export writes only a file of its own "
            "(remove the link or name another file)"
        )
    if not stat.S_ISREG(mode):
        raise ExportRefusedError(f"{out} is not a regular file; name another --out")


def _refuse_link(exc: OSError, out: Path) -> None:
    # O_NOFOLLOW's answer when a link appeared at `out` after the lstat.
    if exc.errno == errno.ELOOP:
        raise ExportRefusedError(
            f"{out} is a symbolic link; the export writes only a file of its own"
        ) from None


def _check_regular(file: BinaryIO, out: Path) -> None:
    if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
        raise ExportRefusedError(f"{out} is not a regular file; name another --out")


def _not_started(out: Path) -> bool:
    """Tell whether ``out`` is a file this tool created and wrote no record into."""
    try:
        checkpoint = read_checkpoint(checkpoint_path(out))
        fd = os.open(out, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except (ExportRefusedError, OSError):
        return False
    try:
        found = os.fstat(fd)
    finally:
        os.close(fd)
    return (
        checkpoint is not None
        and not checkpoint.complete
        and checkpoint.records == 0
        and (found.st_dev, found.st_ino) == (checkpoint.device, checkpoint.inode)
        and found.st_size == checkpoint.bytes
    )


def _lock(file: BinaryIO, out: Path) -> None:
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ExportRefusedError(f"another export is writing {out} right now") from None


def _check_identity(file: BinaryIO, checkpoint: Checkpoint, out: Path) -> None:
    found = os.fstat(file.fileno())
    if (found.st_dev, found.st_ino) != (checkpoint.device, checkpoint.inode):
        raise ExportRefusedError(
            f"{out} is not the file its checkpoint vouches for (another device or inode: "
            f"it was replaced, moved or copied since); {_START_OVER}"
        )


def _check_contents(
    file: BinaryIO, checkpoint: Checkpoint, encoder: RecordEncoder, out: Path
) -> None:
    """Refuse a file whose bytes disagree with the checkpoint's numbers."""
    size = os.fstat(file.fileno()).st_size
    vouched = checkpoint.bytes
    if size < vouched:
        raise ExportRefusedError(
            f"{out} holds {size} bytes but its checkpoint vouches for {vouched}: "
            f"it was changed outside the export; {_START_OVER}"
        )
    header = encoder.header()
    if vouched < len(header) or _read(file, 0, len(header)) != header:
        raise ExportRefusedError(
            f"{out} does not open with this export's header (its first {len(header)} bytes "
            f"differ, or its checkpoint vouches for fewer); {_START_OVER}"
        )
    framing = count_records(_chunks(file, vouched), checkpoint.settings.format)
    # The CSV header is a row of its own.
    found = framing.records - (1 if header else 0)
    if not framing.on_boundary:
        raise ExportRefusedError(
            f"the checkpoint of {out} vouches for {vouched} bytes, which end inside a "
            f"record, not after one (was it edited?); {_START_OVER}"
        )
    if found != checkpoint.records:
        raise ExportRefusedError(
            f"the checkpoint of {out} says {checkpoint.records} records in its first "
            f"{vouched} bytes, but those bytes hold {found} (was it edited?); {_START_OVER}"
        )


def _back_to_mark(file: BinaryIO, checkpoint: Checkpoint, out: Path, *, grouped: bool) -> None:
    """Make a grouped export's checkpoint end at its mark, after checking the mark."""
    mark = checkpoint.mark
    if (mark is not None) != grouped:
        raise ExportRefusedError(
            f"the checkpoint of {out} is not one of this kind of export; {_START_OVER}"
        )
    if mark is None or (mark.records, mark.bytes) == (checkpoint.records, checkpoint.bytes):
        return
    header = 1 if checkpoint.settings.format == "csv" else 0
    framing = count_records(_chunks(file, mark.bytes), checkpoint.settings.format)
    if not framing.on_boundary or framing.records - header != mark.records:
        raise ExportRefusedError(
            f"the checkpoint of {out} marks {mark.records} records in its first "
            f"{mark.bytes} bytes, which do not hold that (was it edited?); {_START_OVER}"
        )
    # Claim less first, then cut: the checkpoint never vouches for more than is there.
    checkpoint.records, checkpoint.bytes = mark.records, mark.bytes
    write_checkpoint(checkpoint_path(out), checkpoint)


def _read(file: BinaryIO, offset: int, size: int) -> bytes:
    return os.pread(file.fileno(), size, offset)


def _chunks(file: BinaryIO, size: int) -> Iterator[bytes]:
    offset = 0
    while offset < size:
        chunk = _read(file, offset, min(_READ_CHUNK, size - offset))
        if not chunk:
            return
        offset += len(chunk)
        yield chunk
