"""Shared pieces of the live-mirror tests: a real ``listen`` process, edits that fire events."""

from __future__ import annotations

import asyncio
import selectors
import signal
import socket
import sqlite3
import subprocess
import time
from typing import TYPE_CHECKING, Any

from export_fixtures import CLI, cli_env

import helpcrunch_async as hc

if TYPE_CHECKING:
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator

HOOK_SECRET = "whsec-live-mirror-7c1d"  # noqa: S105 -- a made-up signing key


class Listener:
    """``helpcrunch-async listen`` in a subprocess, on a port that survives restarts."""

    def __init__(self, folder: Path, port: int = 0) -> None:
        self.folder = folder
        self.inbox = folder / "webhooks.sqlite3"
        self.secret_file = folder / "hook.secret"
        self.secret_file.write_text(HOOK_SECRET + "\n", encoding="utf-8")
        self.secret_file.chmod(0o600)
        self.port = port
        self.url = ""
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> str:
        """Start listening; return the URL it prints (the port is kept for a restart)."""
        args = [*CLI, "listen", "--port", str(self.port), "--secret-file", str(self.secret_file)]
        self.process = subprocess.Popen(  # noqa: S603 -- our own command line
            [*args, "--inbox", str(self.inbox)],
            env=cli_env(None),
            stdout=subprocess.PIPE,
            text=True,
        )
        line = _read_line(self.process, 30.0)
        assert "register this webhook URL" in line, line
        self.url = line.rsplit(" ", 1)[-1].strip()
        self.port = int(self.url.split(":")[2].split("/")[0])
        return self.url

    def kill(self) -> None:
        """SIGKILL: nothing of the process's own shutdown runs."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            _close(self.process)
            self.process = None

    def stop(self) -> None:
        """SIGTERM, and wait."""
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
            _close(self.process)
            self.process = None


def _close(process: subprocess.Popen[str]) -> None:
    if process.stdout is not None:
        process.stdout.close()


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(timeout), "listen printed nothing"
    return process.stdout.readline()


def waiting(inbox: Path) -> list[str]:
    """Return the ids of the events waiting in the inbox."""
    with sqlite3.connect(inbox) as db:
        return [row[0] for row in db.execute("SELECT id FROM webhook_inbox")]


def applied(inbox: Path) -> list[str]:
    """Return the ids of the events the sync applied and settled."""
    with sqlite3.connect(inbox) as db:
        return [row[0] for row in db.execute("SELECT id FROM webhook_done")]


def free_port() -> int:
    """Return a loopback port free now (for a receiver whose URL must be known first)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def delivered(emulator: ThreadedEmulator) -> set[str]:
    """Return the ids of the events some attempt delivered (answered 2xx)."""
    return {r.event_id for r in emulator.deliveries if r.outcome == "delivered"}


def wait_for(condition: Any, timeout: float = 60.0) -> None:
    """Poll ``condition`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def edit_customer(
    emulator: ThreadedEmulator, customer_id: int, event: str, **fields: Any
) -> str | None:
    """Change a customer's fields in place (no timestamp moves), fire ``event``; return its id."""
    return emulator.edit_customer(customer_id, event, **fields)


def snooze_chat(emulator: ThreadedEmulator, chat_id: int, until: int) -> None:
    """Snooze a chat through the API, then fire ``chat.snoozed`` about it."""

    async def write() -> None:
        client = hc.HelpCrunch(api_key=emulator.api_key, base_url=emulator.base_url)
        async with client:
            await client.chats.snooze(chat_id, until)

    asyncio.run(write())
    emulator.emit("chat.snoozed", chat=chat_id)
