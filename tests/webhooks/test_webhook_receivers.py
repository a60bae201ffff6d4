"""Both receivers under real servers on loopback: uvicorn for the ASGI app, aiohttp.web."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import TYPE_CHECKING

import aiohttp
import pytest
from webhook_servers import KINDS, NOW, SECRET, event_body, post, raw_request, serve, signed

from helpcrunch_async import InvalidParameterError, webhooks
from helpcrunch_async.webhooks._receiver import Receiver

if TYPE_CHECKING:
    from pathlib import Path


class FlakyHandler:
    """Records every event it is called with; raises on its first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0
        self.handled: list[str] = []

    async def __call__(self, event: webhooks.Event) -> None:
        self.calls += 1
        number = self.calls
        await asyncio.sleep(0.001)
        if number <= self.failures:
            raise RuntimeError(f"failure {number} on purpose")
        self.handled.append(event.id)


async def deliver_like_helpcrunch(
    session: aiohttp.ClientSession, url: str, body: bytes, statuses: Counter[int]
) -> None:
    """POST until a 2xx, as HelpCrunch's retries do (quickly, for the test)."""
    for _ in range(10):
        status, _ = await post(session, url, body, signed(body))
        statuses[status] += 1
        if 200 <= status < 300:
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"never acknowledged: {status}")


@pytest.mark.parametrize("kind", KINDS)
async def test_each_event_handled_once_despite_duplicates_reordering_and_failures(
    kind: str,
) -> None:
    handler = FlakyHandler(failures=2)
    bodies = [event_body(f"event-{n}") for n in range(20)]
    # Each event three times, shuffled: duplicates, some concurrent, out of order.
    sends = [body for body in bodies for _ in range(3)]
    random.Random(7).shuffle(sends)
    statuses: Counter[int] = Counter()
    async with serve(kind, handler) as url, aiohttp.ClientSession() as session:
        for start in range(0, len(sends), 6):
            await asyncio.gather(
                *(
                    deliver_like_helpcrunch(session, url, b, statuses)
                    for b in sends[start : start + 6]
                )
            )
    assert sorted(handler.handled) == sorted(f"event-{n}" for n in range(20))
    assert len(handler.handled) == len(set(handler.handled))
    assert statuses[500] == 2, (statuses, handler.calls)
    assert statuses[200] == len(sends)


@pytest.mark.parametrize("kind", KINDS)
async def test_refusals_answer_the_documented_status_with_an_empty_body(kind: str) -> None:
    handler = FlakyHandler()
    body = event_body("e-1")
    good = signed(body)
    cases = [
        (body, {"X-HelpCrunch-Signature": webhooks.sign(body, "wrong")}, 401),
        (body + b" ", good, 401),
        (body, {}, 401),
        (body, {"X-HelpCrunch-Signature": "zz"}, 401),
        (b"not json", signed(b"not json"), 400),
        (event_body("old", at=NOW - 301), signed(event_body("old", at=NOW - 301)), 401),
        (event_body("future", at=NOW + 301), signed(event_body("future", at=NOW + 301)), 401),
    ]
    async with serve(kind, handler) as url, aiohttp.ClientSession() as session:
        for data, headers, expected in cases:
            assert await post(session, url, data, headers) == (expected, b""), headers
        twice = [("X-HelpCrunch-Signature", good["X-HelpCrunch-Signature"])] * 2
        async with session.post(url, data=body, headers=twice) as response:
            assert (response.status, await response.read()) == (401, b"")
        async with session.get(url) as response:
            assert response.status == 405
        assert handler.calls == 0
        status, _ = await post(session, url, body, good)
        assert status == 200
    assert handler.handled == ["e-1"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_body_over_the_limit_is_413_before_the_rest_is_read(kind: str) -> None:
    handler = FlakyHandler()
    async with serve(kind, handler, max_body=1000) as url:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        # Declared too large: answered from the header; the body never comes.
        head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n"
        assert (await raw_request(port, head, [b"{"])).startswith(b"HTTP/1.1 413")
        # Chunked: answered once 1000 bytes are counted; the body is never finished.
        head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunks = [b"200\r\n" + b"x" * 0x200 + b"\r\n"] * 3
        assert (await raw_request(port, head, chunks)).startswith(b"HTTP/1.1 413")
        # At the limit exactly: read and judged (not signed: 401).
        async with aiohttp.ClientSession() as session:
            status, _ = await post(session, url, b"x" * 1000, {})
            assert status == 401
    assert handler.calls == 0


@pytest.mark.parametrize("kind", KINDS)
async def test_a_plain_function_handler_and_several_secrets(kind: str) -> None:
    seen: list[str] = []
    async with (
        serve(kind, lambda event: seen.append(event.name), secret=["old", SECRET]) as url,
        aiohttp.ClientSession() as session,
    ):
        for secret in ("old", SECRET):
            body = event_body(f"by-{secret}")
            status, _ = await post(session, url, body, signed(body, secret))
            assert status == 200
    assert seen == ["customer.tags_changed"] * 2


@pytest.mark.parametrize("kind", KINDS)
async def test_spooled_events_are_acknowledged_at_once_and_handled_once_after_failures(
    kind: str, tmp_path: Path
) -> None:
    handler = FlakyHandler(failures=2)
    inbox_path = tmp_path / "inbox.sqlite3"
    bodies = [event_body(f"spooled-{n}") for n in range(10)]
    async with (
        serve(kind, handler, spool=inbox_path, retry_base=0.01, retry_cap=0.05) as url,
        aiohttp.ClientSession() as session,
    ):
        for body in bodies + bodies[:3]:
            status, _ = await post(session, url, body, signed(body))
            assert status == 200
        async with asyncio.timeout(20):
            while len(handler.handled) < 10:  # noqa: ASYNC110 -- polls another task's progress
                await asyncio.sleep(0.02)
        inbox = webhooks.Inbox(inbox_path)
        await inbox.open()
        try:
            async with asyncio.timeout(10):
                while await inbox.count():  # noqa: ASYNC110 -- polls a file
                    await asyncio.sleep(0.02)
        finally:
            await inbox.close()
    assert sorted(handler.handled) == sorted(f"spooled-{n}" for n in range(10))
    assert handler.calls == 12


def test_bad_receiver_arguments_are_refused_before_serving() -> None:
    async def handle(event: webhooks.Event) -> None:
        del event

    with pytest.raises(InvalidParameterError, match="max_body"):
        webhooks.asgi_app(handle, secret=SECRET, max_body=0)
    with pytest.raises(InvalidParameterError, match="tolerance"):
        webhooks.aiohttp_handler(handle, secret=SECRET, tolerance=-1)
    with pytest.raises(InvalidParameterError, match="dedup"):
        webhooks.asgi_app(handle, secret=SECRET, dedup=object())  # type: ignore[arg-type]  # on purpose
    with pytest.raises(InvalidParameterError, match="empty"):
        webhooks.asgi_app(handle, secret="")
    with pytest.raises(InvalidParameterError, match="callable"):
        webhooks.asgi_app(None, secret=SECRET)  # type: ignore[arg-type]  # on purpose
    app = webhooks.asgi_app(handle, secret="hidden-value-123")  # noqa: S106 -- a test key
    assert "hidden-value-123" not in repr(app)


async def test_concurrent_first_deliveries_start_one_spool_worker(tmp_path: Path) -> None:
    handler = FlakyHandler()
    receiver = Receiver(handler, secret=SECRET, spool=tmp_path / "inbox.sqlite3", clock=lambda: NOW)
    bodies = [event_body(f"first-{n}") for n in range(10)]
    try:
        statuses = await asyncio.gather(
            *(receiver.deliver(body, [webhooks.sign(body, SECRET)]) for body in bodies)
        )
        assert statuses == [200] * 10
        workers = [t for t in asyncio.all_tasks() if t.get_name() == "helpcrunch-webhook-spool"]
        assert len(workers) == 1
        async with asyncio.timeout(20):
            while len(handler.handled) < 10:  # noqa: ASYNC110 -- polls the worker's progress
                await asyncio.sleep(0.01)
    finally:
        await receiver.stop()
    assert sorted(handler.handled) == sorted(f"first-{n}" for n in range(10))


async def test_a_copy_meeting_its_twin_in_hand_is_not_acknowledged() -> None:
    release = asyncio.Event()
    calls: list[str] = []

    async def handle(event: webhooks.Event) -> None:
        calls.append(event.id)
        await release.wait()
        if len(calls) == 1:
            raise RuntimeError("the first call fails, after its twin arrived")

    receiver = Receiver(handle, secret=SECRET, clock=lambda: NOW)
    body = event_body("twin")
    signature = [webhooks.sign(body, SECRET)]
    first = asyncio.create_task(receiver.deliver(body, signature))
    await asyncio.sleep(0.01)
    assert await receiver.deliver(body, signature) == 503  # in hand: the sender must try again
    release.set()
    assert await first == 500
    assert await receiver.deliver(body, signature) == 200  # the retry is handled
    assert await receiver.deliver(body, signature) == 200  # and now a duplicate
    assert calls == ["twin", "twin"]
