"""``python -m helpcrunch_async.testing trigger`` and ``--webhook``: real processes and sockets."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import TYPE_CHECKING

import pytest

from helpcrunch_async import webhooks
from helpcrunch_async.testing import WebhookCollector

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from helpcrunch_async.testing import ReceivedWebhook

pytestmark = pytest.mark.slow

SECRET = "whsec-cli-test-value"  # noqa: S105 -- the tests' own signing key
EMULATOR = (sys.executable, "-m", "helpcrunch_async.testing")


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_text(f"{SECRET}\n")
    return path


@pytest.fixture
async def collector() -> AsyncIterator[WebhookCollector]:
    async with WebhookCollector(SECRET) as receiver:
        yield receiver


async def run(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *EMULATOR,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        async with asyncio.timeout(30):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def event_of(delivery: ReceivedWebhook) -> webhooks.Event:
    headers = {webhooks.SIGNATURE_HEADER: delivery.signature or ""}
    return webhooks.parse(delivery.body, headers, SECRET)


async def test_trigger_sends_one_signed_event(
    collector: WebhookCollector, secret_file: Path
) -> None:
    code, out, err = await run(
        "trigger",
        "customer.tags_changed",
        "--url",
        collector.url,
        "--secret-file",
        str(secret_file),
        "--customer",
        "100003",
        "--field",
        'tags=[{"name": "VIP"}]',
        "--field",
        "note=plain text",
    )
    assert code == 0, err
    [delivery] = collector.deliveries
    assert delivery.verified
    event = event_of(delivery)
    assert isinstance(event, webhooks.CustomerTagsChanged)
    assert event.customer_id == 100003
    assert [tag.name for tag in event.customer.tags] == ["VIP"]
    assert delivery.envelope is not None
    assert delivery.envelope["eventData"]["note"] == "plain text"
    assert f"delivered: {event.id}" in out
    assert SECRET not in out + err


async def test_trigger_retries_then_reports_failure(secret_file: Path) -> None:
    async with WebhookCollector(SECRET, status=lambda _: 500) as failing:
        code, out, err = await run(
            "trigger",
            "message.chat.customer",
            "--url",
            failing.url,
            "--secret-file",
            str(secret_file),
            "--attempts",
            "3",
            "--retry-delay",
            "0.05",
        )
    assert code == 1, err
    envelopes = [d.envelope for d in failing.deliveries]
    assert [e["attempts"] for e in envelopes if e] == [0, 1, 2]
    assert all(d.verified for d in failing.deliveries)
    assert out.count("refused (500)") == 3
    assert "not delivered" in out
    assert SECRET not in out + err


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("chats.new",), "unknown webhook event 'chats.new'"),
        (("chat.new", "--url", "http://example.com/hook"), "not loopback"),
        (("chat.new", "--secret-file", "/nonexistent/secret"), "cannot read the webhook secret"),
        (("chat.new", "--chat", "1"), "no chat with id 1"),
        (("chat.new", "--attempts", "0"), "--attempts must be >= 1"),
        (("chat.new", "--field", "=1"), "--field takes KEY=JSON"),
        (("chat.new", "--timeout", "nan"), "timeout must be > 0"),
        (("chat.new", "--retry-delay", "inf", "--attempts", "2"), "finite"),
        (("chat.new", "--customers", "-1"), "size must be >= 0"),
    ],
)
async def test_trigger_refuses_bad_input_before_sending(
    collector: WebhookCollector, secret_file: Path, args: tuple[str, ...], problem: str
) -> None:
    defaults = {"--url": collector.url, "--secret-file": str(secret_file)}
    given = dict(zip(args[1::2], args[2::2], strict=True))
    extra = [part for name, value in {**defaults, **given}.items() for part in (name, value)]
    code, out, err = await run("trigger", args[0], *extra)
    assert code == 2
    assert problem in err
    assert collector.deliveries == []
    assert SECRET not in out + err


async def test_an_empty_secret_file_is_refused(collector: WebhookCollector, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    url = collector.url
    code, _, err = await run("trigger", "chat.new", "--url", url, "--secret-file", str(empty))
    assert code == 2
    assert "is empty" in err


async def test_the_standalone_emulator_delivers_its_drift(
    collector: WebhookCollector, secret_file: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        *EMULATOR,
        "--port",
        "0",
        "--customers",
        "50",
        "--drift",
        "at=0.1,insert=2",
        "--webhook",
        collector.url,
        "--webhook-secret-file",
        str(secret_file),
        "--webhook-events",
        "customer.new,customer.deleted",
        "--webhook-duplicate-rate",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        async with asyncio.timeout(30):
            assert process.stdout is not None
            line = (await process.stdout.readline()).decode()
            assert line.startswith("listening on http://127.0.0.1:")
            events = await collector.wait_events(2)
            await collector.wait_deliveries(4)
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(15):
            _, err = await process.communicate()
        assert process.returncode == 0, err
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert [e["event"] for e in events] == ["customer.new", "customer.new"]
    assert len(collector.deliveries) == 4  # each one twice: the duplicate fault
    assert SECRET not in err.decode()


async def test_the_standalone_emulator_refuses_a_webhook_without_its_secret() -> None:
    code, _, err = await run("--port", "0", "--webhook", "http://127.0.0.1:9/")
    assert code == 2
    assert "--webhook-secret-file" in err
    code, _, err = await run("--port", "0", "--webhook-events", "chat.new")
    assert code == 2
    assert "need --webhook URL" in err
