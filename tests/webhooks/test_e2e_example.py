"""``examples/webhooks_app.py`` for real: uvicorn on loopback, fed and read by the emulator."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import msgspec
import pytest

from helpcrunch_async.testing import DeliveryFaults, Emulator, Subscription, WebhookSettings

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
SECRET = "example-app-signing-key"  # noqa: S105 -- the test's own signing key
API_KEY = "example-app-api-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def read_lines(
    stream: asyncio.StreamReader, lines: list[str], started: asyncio.Event
) -> None:
    """Keep the server's stderr drained; say when it listens."""
    while line := await stream.readline():
        lines.append(line.decode(errors="replace"))
        if "Uvicorn running on" in lines[-1]:  # listening: startup runs before the bind
            started.set()


ANSWER_TAG = "Auto-answered"
# Every event the app's answers fire, and the ones it answers: it must tell them apart.
EVENTS = [
    "message.chat.customer",
    "message.chat.agent",
    "message.private",
    "chat.new",
    "chat.status_updated",
    "customer.tags_changed",
]


async def settled(emu: Emulator) -> None:
    """Wait until no delivery is pending and none arrived for a moment (answers fire more)."""
    while True:
        seen = len(emu.deliveries)
        async with asyncio.timeout(30):
            await emu.webhooks_settled()
        await asyncio.sleep(0.3)
        if len(emu.deliveries) == seen:
            return


async def serve_app(emu: Emulator, port: int, secret_file: Path) -> str:
    """Run the example under uvicorn while new chats get customer messages; return its log."""
    lines: list[str] = []
    started = asyncio.Event()
    env = {
        **os.environ,
        "HELPCRUNCH_API_KEY": API_KEY,
        "HELPCRUNCH_BASE_URL": emu.base_url,
        "HELPCRUNCH_WEBHOOK_SECRET_FILE": str(secret_file),
        "PYTHONUNBUFFERED": "1",
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "webhooks_app:app",
        "--app-dir",
        str(EXAMPLES),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert server.stderr is not None
    reader = asyncio.create_task(read_lines(server.stderr, lines, started))
    try:
        async with asyncio.timeout(30):
            await started.wait()
        new_chats = emu.add_chats(3)
        emu.add_messages(new_chats[0], 1, sender="customer")
        await settled(emu)
        server.send_signal(signal.SIGINT)
        async with asyncio.timeout(15):
            assert await server.wait() == 0
            await reader
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
        await reader
    return "".join(lines)


async def test_the_app_answers_each_new_customer_message_once(tmp_path: Path) -> None:
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_text(f"{SECRET}\n")
    port = free_port()
    hook = Subscription(f"http://127.0.0.1:{port}/webhooks/", SECRET, EVENTS)
    settings = WebhookSettings(faults=DeliveryFaults(duplicate_rate=0.5, seed=3))
    async with Emulator(
        customers=300, chats=20, api_key=API_KEY, webhooks=[hook], webhook_settings=settings
    ) as emu:
        first_new = emu.chats_total
        text = await serve_app(emu, port, secret_file)
        new_chats = emu.expected_chat_ids()[first_new:]
        records = emu.deliveries
        writes = [(e.method, e.path, e.status, e.body or "") for e in emu.log if e.method != "GET"]
        chats = {chat: emu.truth_messages(chat) for chat in new_chats}
        customers = {c["id"]: c["customer"]["id"] for c in emu.truth_chats() if c["id"] in chats}
        tags = {c["id"]: [t["name"] for t in c["tags"]] for c in emu.truth_customers()}
    assert "Application shutdown complete" in text
    assert "Unclosed" not in text
    assert SECRET not in text
    assert API_KEY not in text
    assert {r.status for r in records} == {200}, records
    assert any(r.outcome == "duplicate" for r in records)
    customer_messages = {r.event_id for r in records if r.event == "message.chat.customer"}
    assert len(customer_messages) == 4  # one opening each new chat, one more in the first
    asked = [*new_chats, new_chats[0]]

    # Each customer message answered once: one tag write and one private note each.
    answered = re.findall(r"answered message (\d+) in chat (\d+) of customer (\d+)", text)
    assert sorted(int(chat) for _, chat, _ in answered) == sorted(asked)
    assert len({message for message, _, _ in answered}) == 4
    notes = [w for w in writes if w[:2] == ("POST", "/v1/messages")]
    assert sorted(msgspec.json.decode(body)["chat"] for *_, body in notes) == sorted(asked)
    assert all(msgspec.json.decode(body)["type"] == "private" for *_, body in notes)
    tagged = [w for w in writes if w[0] == "PUT" and w[1].endswith("/tags")]
    assert len(tagged) == 4
    assert {status for _, _, status, _ in writes} == {200}
    assert len(writes) == 8  # nothing else was written: no answer to an answer

    # In the account: the note in each chat, once per customer message; the tag present.
    for chat, messages in chats.items():
        mine = [m for m in messages if m["type"] == "private"]
        assert len(mine) == asked.count(chat)
        assert all(m["text"].startswith("Auto-answer to message ") for m in mine)
        assert ANSWER_TAG in tags[customers[chat]]

    # The app's own writes came back as webhooks and were acknowledged, not answered.
    private = {r.event_id for r in records if r.event == "message.private"}
    assert len(private) == 4
    assert any(r.event == "customer.tags_changed" for r in records)
