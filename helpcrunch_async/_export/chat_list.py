"""The frozen list of chats that a messages export reads, kept beside the output.

``export messages`` first lists its chats (from the server, or from the ids in
``--chats FILE``) into ``OUT.chats``: one id per line, each chat once, in the
order their messages will be written. Only once the list is whole and on disk
does the checkpoint record its length and SHA-256 (`ChatList`), so a resumed
run reads exactly the same chats in the same order and can say "the first
``position`` are done" without asking the server again.

The list is written like the checkpoint (a temporary file with a random name,
fsynced, renamed over, the directory fsynced) and read without following a
link. This module does no network I/O and imports neither aiohttp nor asyncio.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Final, Self

from helpcrunch_async._core.idset import IdSet
from helpcrunch_async._export.checkpoint import (
    ChatList,
    ExportRefusedError,
    fsync_dir,
    read_own_file,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from types import TracebackType

__all__ = ["ChatListWriter", "chat_list_path", "digest_of_ids", "read_chat_ids", "read_list"]

_START_OVER: Final = "start over with --overwrite"


def chat_list_path(out: Path) -> Path:
    """Return the chat list that sits beside the output ``out``."""
    return out.with_name(out.name + ".chats")


def read_chat_ids(path: Path) -> list[int]:
    """Return the chat ids in the file ``--chats`` names: one per line, each once, in order.

    Blank lines and lines starting with ``#`` are skipped; an id seen again is
    dropped. Anything else that is not a positive integer is refused, naming
    the line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExportRefusedError(f"cannot read --chats {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ExportRefusedError(f"--chats {path} is not UTF-8 text") from None
    seen = IdSet()
    ids: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if not (entry.isascii() and entry.isdigit() and int(entry) > 0):
            raise ExportRefusedError(
                f"--chats {path}, line {number}: {entry[:40]!r} is not a chat id "
                "(one positive integer per line)"
            )
        chat_id = int(entry)
        if chat_id not in seen:
            seen.add(chat_id)
            ids.append(chat_id)
    if not ids:
        raise ExportRefusedError(f"--chats {path} names no chat")
    return ids


def digest_of_ids(ids: Iterable[int]) -> ChatList:
    """Return the length and SHA-256 of the list file that holds ``ids``."""
    digest = hashlib.sha256()
    count = 0
    for chat_id in ids:
        digest.update(b"%d\n" % chat_id)
        count += 1
    return ChatList(count=count, sha256=digest.hexdigest())


class ChatListWriter:
    """Write a chat list to a temporary file; `commit` puts it in place and says what it holds."""

    def __init__(self, target: Path) -> None:
        self._target = target
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        self._tmp = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._digest = hashlib.sha256()
        self._count = 0
        self._seen = IdSet()

    def add(self, chat_id: int) -> None:
        """Append ``chat_id`` unless it is already in the list."""
        if chat_id in self._seen:
            return
        self._seen.add(chat_id)
        line = b"%d\n" % chat_id
        self._file.write(line)
        self._digest.update(line)
        self._count += 1

    def commit(self) -> ChatList:
        """Make the list durable at its place; return its length and digest."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        # rename replaces a directory entry: a link at the target is replaced, never followed.
        self._tmp.replace(self._target)
        fsync_dir(self._target)
        return ChatList(count=self._count, sha256=self._digest.hexdigest())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._file.closed:
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()


def read_list(path: Path, expected: ChatList, *, skip: int = 0) -> Iterator[int]:
    """Return the ids of the chat list at ``path`` after the first ``skip``, once it checks out.

    The whole file is read and hashed now: a list that is not the one the
    checkpoint recorded (edited, cut short, replaced by a link) is refused
    before any id is used.
    """
    data = read_own_file(path, "the chat list")
    if data is None:
        raise ExportRefusedError(
            f"the chat list {path} is gone but the checkpoint needs it; {_START_OVER}"
        )
    found = ChatList(count=data.count(b"\n"), sha256=hashlib.sha256(data).hexdigest())
    if found != expected:
        raise ExportRefusedError(
            f"the chat list {path} is not the one this export made ({found.count} chats, "
            f"expected {expected.count}, or other ids); {_START_OVER}"
        )
    return (int(line) for line in itertools.islice(data.splitlines(), skip, None))
