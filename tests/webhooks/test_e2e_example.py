"""``examples/webhooks_app.py`` for real: uvicorn on loopback, fed and read by the emulator."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

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


async def test_the_app_answers_each_new_customer_message_once(tmp_path: Path) -> None:
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_text(f"{SECRET}\n")
    port = free_port()
    hook = Subscription(
        f"http://127.0.0.1:{port}/webhooks/",
        SECRET,
        ["message.chat.customer", "message.chat.agent", "chat.new"],
    )
    settings = WebhookSettings(faults=DeliveryFaults(duplicate_rate=0.5, seed=3))
    lines: list[str] = []
    started = asyncio.Event()
    async with Emulator(
        customers=300, chats=20, api_key=API_KEY, webhooks=[hook], webhook_settings=settings
    ) as emu:
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
            async with asyncio.timeout(30):
                await emu.webhooks_settled()
            server.send_signal(signal.SIGINT)
            async with asyncio.timeout(15):
                assert await server.wait() == 0
                await reader
        finally:
            if server.returncode is None:
                server.kill()
                await server.wait()
            await reader
        records = emu.deliveries
        reads = [(e.method, e.path, e.status) for e in emu.log]
    text = "".join(lines)
    assert "Application shutdown complete" in text
    assert "Unclosed" not in text
    assert SECRET not in text
    assert API_KEY not in text
    customer_messages = {r.event_id for r in records if r.event == "message.chat.customer"}
    assert len(customer_messages) == 4  # one opening each new chat, one more in the first
    assert {r.status for r in records} == {200}, records
    assert any(r.outcome == "duplicate" for r in records)
    answered = re.findall(r"answering chat (\d+) \(status \w+\) of customer (\d+)", text)
    # Once per customer message, duplicates and other event types acknowledged unanswered.
    assert sorted(int(chat) for chat, _ in answered) == sorted([*new_chats, new_chats[0]])
    chat_reads = [path for method, path, _ in reads if path.startswith("/v1/chats/")]
    assert sorted(chat_reads) == sorted(f"/v1/chats/{c}" for c in [*new_chats, new_chats[0]])
    customer_reads = {path for _, path, _ in reads if path.startswith("/v1/customers/")}
    assert customer_reads == {f"/v1/customers/{customer}" for _, customer in answered}
    assert {status for _, _, status in reads} == {200}
