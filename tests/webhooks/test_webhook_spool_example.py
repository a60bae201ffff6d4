"""``examples/webhooks_spool.py`` for real: its process fed by the emulator's ``trigger`` CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def trigger(*args: str) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "helpcrunch_async.testing",
        "trigger",
        *args,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    async with asyncio.timeout(60):
        return await process.wait()


async def test_triggered_events_are_acknowledged_spooled_and_handled(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("example-signing-key\n")
    port = free_port()
    env = dict(
        os.environ,
        HELPCRUNCH_WEBHOOK_SECRET_FILE=str(secret_file),
        WEBHOOK_INBOX=str(tmp_path / "inbox.sqlite3"),
        PORT=str(port),
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    app = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "webhooks_spool.py"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert app.stdout is not None
    url = f"http://127.0.0.1:{port}/webhooks"
    try:
        async with asyncio.timeout(30):
            while True:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                writer.close()
                await writer.wait_closed()
                break
        common = ["--url", url, "--secret-file", str(secret_file)]
        assert await trigger("customer.tags_changed", *common) == 0
        assert await trigger("message.chat.customer", *common) == 0
        wrong = tmp_path / "wrong"
        wrong.write_text("not-the-key")
        assert (
            await trigger("chat.new", "--url", url, "--secret-file", str(wrong), "--attempts", "1")
            != 0
        )
        lines: list[str] = []
        async with asyncio.timeout(30):
            while len(lines) < 2:
                lines.append((await app.stdout.readline()).decode())
    finally:
        app.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            _, stderr = await app.communicate()
    assert lines[0].startswith("customer ")
    assert "tags now" in lines[0]
    assert lines[1].startswith("chat ")
    assert "the customer wrote" in lines[1]
    assert app.returncode == 0, stderr.decode()[-2000:]
    assert "example-signing-key" not in stderr.decode()


def test_the_readme_shows_the_example_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / "examples" / "webhooks_spool.py").read_text()
    marker = "<!-- example: examples/webhooks_spool.py -->\n```python\n"
    assert marker + example + "```\n" in readme
