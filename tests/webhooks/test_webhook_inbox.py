"""The spool file: its schema readable by another process, its writes idempotent, links refused."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from typing import TYPE_CHECKING

import pytest

from helpcrunch_async import InvalidParameterError, webhooks

if TYPE_CHECKING:
    from pathlib import Path

READER = """
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute(
    "SELECT id, event, body, received_at, attempts FROM webhook_inbox ORDER BY received_at"
).fetchall()
print(json.dumps([[r[0], r[1], bytes(r[2]).decode(), r[3], r[4]] for r in rows]))
mode = db.execute("PRAGMA journal_mode").fetchone()[0]
print(mode, db.execute("PRAGMA user_version").fetchone()[0])
"""


async def test_another_process_reads_what_waits(tmp_path: Path) -> None:
    inbox = webhooks.Inbox(tmp_path / "inbox.sqlite3")
    await inbox.open()
    try:
        assert await inbox.put("e-1", "chat.new", b'{"id":"e-1"}', 100.0)
        assert not await inbox.put("e-1", "chat.new", b'{"id":"e-1"}', 101.0)  # a redelivery
        assert await inbox.put("e-2", "customer.new", b'{"id":"e-2"}', 102.0)
        await inbox.failed("e-1", 500.0, "RuntimeError")
        reader = await asyncio.create_subprocess_exec(
            sys.executable, "-c", READER, str(inbox.path), stdout=asyncio.subprocess.PIPE
        )
        async with asyncio.timeout(30):
            stdout, _ = await reader.communicate()
        out = stdout.decode().splitlines()
        assert json.loads(out[0]) == [
            ["e-1", "chat.new", '{"id":"e-1"}', 100.0, 1],
            ["e-2", "customer.new", '{"id":"e-2"}', 102.0, 0],
        ]
        assert out[1] == "wal 1"
        assert [row.id for row in await inbox.due(200.0, 10)] == ["e-2"]
        assert await inbox.next_due() == 102.0
        await inbox.done("e-2")
        assert await inbox.count() == 1
    finally:
        await inbox.close()
    assert (inbox.path.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("suffix", ["", "-wal"])
async def test_a_planted_link_is_refused(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    path = tmp_path / "inbox.sqlite3"
    (tmp_path / f"inbox.sqlite3{suffix}").symlink_to(target)
    inbox = webhooks.Inbox(path)
    with pytest.raises(InvalidParameterError, match="symbolic link"):
        await inbox.open()
    await inbox.close()
    assert target.read_bytes() == b""


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=7")
    db.close()
    inbox = webhooks.Inbox(path)
    with pytest.raises(InvalidParameterError, match="schema version 7"):
        await inbox.open()
    await inbox.close()


def test_a_bad_path_is_refused() -> None:
    for path in ("", None, 5):
        with pytest.raises(InvalidParameterError, match="spool"):
            webhooks.Inbox(path)  # type: ignore[arg-type]  # on purpose
