"""The import's files: the input it reads, its checkpoint and its rejects, written safely.

The input (``FILE``) is only read: its rows come out with their 1-based line
numbers, checked by `_core.import_rows`. Beside it the import writes
``FILE.import.checkpoint.json`` (the `Journal`, replaced atomically under an
unpredictable ``O_EXCL`` temporary name by `replace_file`, read without
following a link) and ``FILE.rejects.jsonl`` (one JSON object a rejected row:
``{"line", "reason"}``), opened with ``O_NOFOLLOW`` and locked, so that a link
planted beside the input never redirects a write and two imports of one file
cannot run at once. A resume cuts the rejects back to what the checkpoint
vouches for.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import hashlib
import io
import os
import stat
from typing import TYPE_CHECKING, BinaryIO, Final

import msgspec

from helpcrunch_async._core.import_journal import Journal
from helpcrunch_async._core.import_rows import (
    Rejected,
    Row,
    header_columns,
    row_from_cells,
    row_from_json,
)
from helpcrunch_async._export.checkpoint import (
    ExportRefusedError,
    fsync_dir,
    read_own_file,
    replace_file,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from helpcrunch_async._core.import_rows import Match

__all__ = [
    "RejectsFile",
    "digest",
    "journal_path",
    "read_journal",
    "read_rows",
    "rejects_path",
    "write_journal",
]

_CHUNK: Final = 1 << 20
_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC


def journal_path(source: Path) -> Path:
    """Return the checkpoint of an import of ``source``."""
    return source.with_name(source.name + ".import.checkpoint.json")


def rejects_path(source: Path) -> Path:
    """Return the rejects file of an import of ``source``."""
    return source.with_name(source.name + ".rejects.jsonl")


def digest(source: Path) -> tuple[str, int]:
    """Return the SHA-256 (hex) and the size of ``source``."""
    sha = hashlib.sha256()
    size = 0
    with source.open("rb") as file:
        while chunk := file.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


def read_rows(source: Path, fmt: str, match: Match, *, guarded: bool) -> Iterator[Row | Rejected]:
    """Yield every row of ``source`` (JSONL or CSV), checked, in file order."""
    if fmt == "csv":
        yield from _csv_rows(source, match, guarded=guarded)
        return
    with source.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            row = row_from_json(number, raw, match)
            if row is not None:
                yield row


def _csv_rows(source: Path, match: Match, *, guarded: bool) -> Iterator[Row | Rejected]:
    with source.open(encoding="utf-8", newline="") as text:
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            return
        columns = header_columns(header)
        start = reader.line_num + 1
        for cells in reader:
            # A quoted cell may hold line breaks: a row is named by its first line.
            line, start = start, reader.line_num + 1
            if cells:
                yield row_from_cells(line, columns, cells, match, guarded=guarded)


def read_journal(path: Path) -> Journal | None:
    """Return the checkpoint at ``path`` (None if there is none); refuse a link or a damaged one."""
    data = read_own_file(path, "the import's checkpoint")
    if data is None:
        return None
    try:
        return msgspec.json.decode(data, type=Journal)
    except msgspec.DecodeError as exc:
        raise ExportRefusedError(
            f"the checkpoint {path} is unreadable ({exc}); start over with --overwrite"
        ) from None


def write_journal(path: Path, journal: Journal) -> None:
    """Replace the checkpoint at ``path`` atomically and durably."""
    replace_file(path, msgspec.json.format(msgspec.json.encode(journal)) + b"\n")


class RejectsFile:
    """``FILE.rejects.jsonl``, appended a window at a time; locked while open."""

    def __init__(self, path: Path, *, keep: int) -> None:
        """Open ``path`` (never through a link), lock it, and cut it to its first ``keep`` bytes."""
        self.path = path
        try:
            fd = os.open(path, _FLAGS | (0 if keep else os.O_TRUNC), 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ExportRefusedError(
                    f"{path} is a symbolic link; the import writes only a file of its own"
                ) from None
            raise
        self._file: BinaryIO = os.fdopen(fd, "ab")
        try:
            _take(fd, path, keep)
            self._file.truncate(keep)
            os.fsync(fd)
            fsync_dir(path)
        except BaseException:
            self._file.close()
            raise
        self.size = keep

    def append(self, rejects: list[Rejected]) -> int:
        """Append ``rejects`` durably; return the file's length."""
        if rejects:
            buffer = io.BytesIO()
            for reject in rejects:
                buffer.write(msgspec.json.encode({"line": reject.line, "reason": reject.reason}))
                buffer.write(b"\n")
            self._file.write(buffer.getvalue())
            self._file.flush()
            os.fsync(self._file.fileno())
            self.size = os.fstat(self._file.fileno()).st_size
        return self.size

    def close(self) -> None:
        """Close (and unlock) the file."""
        self._file.close()


def _take(fd: int, path: Path, keep: int) -> None:
    """Refuse a rejects file that is not a regular file, is in use, or is shorter than vouched."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        raise ExportRefusedError(f"{path} is not a regular file")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ExportRefusedError(f"another import is using {path} right now") from None
    size = os.fstat(fd).st_size
    if size < keep:
        raise ExportRefusedError(
            f"{path} holds {size} bytes but the checkpoint vouches for {keep}: it was "
            "changed outside the import; start over with --overwrite"
        )
