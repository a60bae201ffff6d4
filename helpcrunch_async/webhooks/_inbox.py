"""`Inbox`: a durable SQLite file of verified events waiting for their handler.

The schema (``PRAGMA user_version`` 1) is meant to be read by other processes
too (the sync applies webhook events from it)::

    CREATE TABLE webhook_inbox (
        id              TEXT PRIMARY KEY,   -- the event id: a redelivery is stored once
        event           TEXT NOT NULL,      -- the event type, "chat.new"
        body            BLOB NOT NULL,      -- the raw body, as received and verified
        received_at     REAL NOT NULL,      -- unix seconds
        attempts        INTEGER NOT NULL,   -- handler calls that failed
        next_attempt_at REAL NOT NULL,      -- unix seconds: not handed out before
        last_error      TEXT                -- the last failure's exception type
    )
    CREATE TABLE webhook_done (
        id              TEXT PRIMARY KEY,   -- an event applied and removed (`mark_applied`)
        done_at         REAL NOT NULL       -- unix seconds; kept `DONE_KEPT` seconds
    )

A process that applies events itself (the sync) reads them with `read_waiting`
and, once they are applied for good, moves them to ``webhook_done`` with
`mark_applied`: a redelivery of one of them is then acknowledged by `Inbox.put`
without being stored again, even after the receiver restarted.

The file is in WAL mode (readers in other processes never block the writer)
with ``synchronous=FULL``: an event is acknowledged only once its insert is on
disk. Every call runs on one thread of the inbox's own, off the event loop;
each is one short statement. The file is created without following a link
(``O_NOFOLLOW``), and a link planted in place of the file or its ``-wal`` and
``-shm`` companions is refused.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from helpcrunch_async._errors import InvalidParameterError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "DONE_KEPT",
    "SCHEMA_VERSION",
    "Inbox",
    "Row",
    "count_waiting",
    "mark_applied",
    "read_waiting",
]

T = TypeVar("T")

SCHEMA_VERSION = 1
# How long an applied event's id is remembered against redeliveries (seconds).
DONE_KEPT = 7 * 86400.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_inbox (
    id              TEXT PRIMARY KEY,
    event           TEXT NOT NULL,
    body            BLOB NOT NULL,
    received_at     REAL NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error      TEXT
);
CREATE INDEX IF NOT EXISTS webhook_inbox_due ON webhook_inbox (next_attempt_at, received_at);
CREATE TABLE IF NOT EXISTS webhook_done (id TEXT PRIMARY KEY, done_at REAL NOT NULL);
"""


class Row(NamedTuple):
    """One spooled event as the worker reads it."""

    id: str
    event: str
    body: bytes
    received_at: float
    attempts: int


class Inbox:
    """The spool file at ``path``; `open` it before use and `close` it after."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, str | os.PathLike) or not str(path):
            raise InvalidParameterError(f"the spool must be a file path, got {path!r}")
        self.path = Path(path)
        self._connection: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"Inbox({str(self.path)!r})"

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        if self._thread is None:
            raise InvalidParameterError(f"{self!r} is not open")
        return await asyncio.get_running_loop().run_in_executor(self._thread, call, *args)

    async def open(self) -> None:
        """Create or open the file and its table (idempotent)."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="helpcrunch-inbox")
        if self._connection is None:
            self._connection = await self._run(_connect, self.path)

    async def close(self) -> None:
        """Close the file and stop the inbox's thread."""
        if self._connection is not None:
            await self._run(self._connection.close)
            self._connection = None
        if self._thread is not None:
            self._thread.shutdown(wait=True)
            self._thread = None

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise InvalidParameterError(f"{self!r} is not open")
        return self._connection

    async def put(self, event_id: str, event: str, body: bytes, now: float) -> bool:
        """Store an event for its handler; False if its id waits already or was applied."""

        def put() -> bool:
            with self._db() as db:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO webhook_inbox"
                    " (id, event, body, received_at, attempts, next_attempt_at)"
                    " SELECT ?, ?, ?, ?, 0, ?"
                    " WHERE NOT EXISTS (SELECT 1 FROM webhook_done WHERE id = ?)",
                    (event_id, event, body, now, now, event_id),
                )
                return cursor.rowcount == 1

        return await self._run(put)

    async def due(self, now: float, limit: int) -> list[Row]:
        """Return up to ``limit`` events whose next attempt is due, oldest first."""

        def due() -> list[Row]:
            rows = self._db().execute(
                "SELECT id, event, body, received_at, attempts FROM webhook_inbox"
                " WHERE next_attempt_at <= ? ORDER BY next_attempt_at, received_at LIMIT ?",
                (now, limit),
            )
            return [Row(*row) for row in rows]

        return await self._run(due)

    async def next_due(self) -> float | None:
        """Return the earliest next attempt of any waiting event, or None if none waits."""

        def next_due() -> float | None:
            (value,) = (
                self._db().execute("SELECT MIN(next_attempt_at) FROM webhook_inbox").fetchone()
            )
            return None if value is None else float(value)

        return await self._run(next_due)

    async def done(self, event_id: str) -> None:
        """Delete an event whose handler returned."""

        def done() -> None:
            with self._db() as db:
                db.execute("DELETE FROM webhook_inbox WHERE id = ?", (event_id,))

        await self._run(done)

    async def failed(self, event_id: str, next_attempt_at: float, error: str) -> None:
        """Count a failed handler call and put the next attempt off to ``next_attempt_at``."""

        def failed() -> None:
            with self._db() as db:
                db.execute(
                    "UPDATE webhook_inbox SET attempts = attempts + 1, next_attempt_at = ?,"
                    " last_error = ? WHERE id = ?",
                    (next_attempt_at, error, event_id),
                )

        await self._run(failed)

    async def count(self) -> int:
        """Return how many events wait."""

        def count() -> int:
            (value,) = self._db().execute("SELECT COUNT(*) FROM webhook_inbox").fetchone()
            return int(value)

        return await self._run(count)


def read_waiting(path: str | os.PathLike[str], limit: int) -> list[Row]:
    """Return up to ``limit`` waiting events of the inbox file at ``path``, oldest first.

    Blocking (one short query): for a process that applies events itself.
    """
    db = _connect(Path(path))
    try:
        rows = db.execute(
            "SELECT id, event, body, received_at, attempts FROM webhook_inbox"
            " ORDER BY received_at, id LIMIT ?",
            (limit,),
        )
        return [Row(*row) for row in rows]
    finally:
        db.close()


def count_waiting(path: str | os.PathLike[str]) -> int:
    """Return how many events wait in the inbox file at ``path`` (blocking, one query)."""
    db = _connect(Path(path))
    try:
        (value,) = db.execute("SELECT COUNT(*) FROM webhook_inbox").fetchone()
        return int(value)
    finally:
        db.close()


def mark_applied(path: str | os.PathLike[str], event_ids: list[str], now: float) -> int:
    """Move ``event_ids`` from waiting to applied in one transaction; return how many moved.

    Ids not waiting (moved before) are ignored, so a repeat is harmless. Ids
    applied more than `DONE_KEPT` seconds ago are forgotten.
    """
    db = _connect(Path(path))
    moved = 0
    try:
        with db:
            for start in range(0, len(event_ids), 500):
                chunk = event_ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                copy = f"INSERT OR IGNORE INTO webhook_done (id, done_at) SELECT id, ? FROM webhook_inbox WHERE id IN ({marks})"  # noqa: E501, S608 -- only ? marks go in
                db.execute(copy, (now, *chunk))
                cursor = db.execute(
                    f"DELETE FROM webhook_inbox WHERE id IN ({marks})",  # noqa: S608 -- only ?s
                    chunk,
                )
                moved += cursor.rowcount
            db.execute("DELETE FROM webhook_done WHERE done_at < ?", (now - DONE_KEPT,))
    finally:
        db.close()
    return moved


def _connect(path: Path) -> sqlite3.Connection:
    """Open (creating, without following a link) the spool file and its schema."""
    for companion in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        _refuse_link(companion)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidParameterError(f"the spool {str(path)!r} is not a regular file")
    finally:
        os.close(fd)
    # autocommit off by default (Python's legacy mode): `with db:` commits each write.
    db = sqlite3.connect(path, timeout=5.0, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        _check_version(db, path)
        with db:
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        db.close()
        raise
    return db


def _check_version(db: sqlite3.Connection, path: Path) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, SCHEMA_VERSION):
        raise InvalidParameterError(
            f"the spool {str(path)!r} has schema version {version}; "
            f"this version reads {SCHEMA_VERSION}"
        )


def _refuse_link(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise InvalidParameterError(f"the spool path {str(path)!r} is a symbolic link: refused")
