"""``WebhookCollector``: a loopback receiver that records every delivery, verified.

Point an emulator at it (``Emulator(webhooks=[collector.subscription()])``) and assert
on what arrived: ``deliveries`` holds every request (body, signature, whether it
verified), ``events`` the verified envelopes once per event id, in arrival order.
``status`` chooses each answer (200 by default), so a test can make the receiver fail.
``ThreadedCollector`` runs one on its own loop for synchronous tests; the pytest
plugin's ``helpcrunch_webhooks`` fixture is one.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any, Self

import msgspec
from aiohttp import web

from helpcrunch_async.testing._background import BackgroundServer
from helpcrunch_async.testing._webhooks import Subscription
from helpcrunch_async.webhooks import (
    DEFAULT_MAX_BODY,
    SIGNATURE_HEADER,
    SigningSecret,
    WebhookSignatureError,
    verify,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from types import TracebackType


class ReceivedWebhook(msgspec.Struct, frozen=True):
    """One request the collector received.

    ``verified`` says whether its signature matched the body under the collector's
    secret; ``envelope`` is the decoded body when it is a JSON object (else None);
    ``status`` is what the collector answered.
    """

    body: bytes
    signature: str | None
    signatures: int
    verified: bool
    envelope: dict[str, Any] | None
    status: int
    time: float


def _decode(body: bytes) -> dict[str, Any] | None:
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None


class WebhookCollector:
    """Receive deliveries on ``host:port`` (0: a free port) and record them."""

    def __init__(
        self,
        secret: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/webhooks",
        status: Callable[[ReceivedWebhook], int] | None = None,
    ) -> None:
        """Keep the settings; ``secret`` defaults to a fresh random one."""
        self.secret = SigningSecret(secret or secrets.token_hex(16))
        self.host = host
        self.port = port
        self.path = path
        self._status = status
        self.deliveries: list[ReceivedWebhook] = []
        self._runner: web.AppRunner | None = None
        self._arrived = threading.Condition()
        self._changed: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """The URL deliveries go to."""
        return f"http://{self.host}:{self.port}{self.path}"

    def subscription(self, events: Iterable[str] | None = None) -> Subscription:
        """Return a subscription of this collector for ``events`` (None: all)."""
        return Subscription(self.url, self.secret, events)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The verified envelopes, the first copy of each event id, in arrival order."""
        seen: set[Any] = set()
        first: list[dict[str, Any]] = []
        for delivery in list(self.deliveries):
            envelope = delivery.envelope
            if delivery.verified and envelope is not None and envelope.get("id") not in seen:
                seen.add(envelope.get("id"))
                first.append(envelope)
        return first

    async def start(self) -> None:
        """Listen."""
        self._changed = asyncio.Event()
        app = web.Application(client_max_size=DEFAULT_MAX_BODY)
        app.router.add_post(self.path, self._receive)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        """Start listening."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop listening."""
        await self.stop()

    async def wait_events(self, count: int) -> list[dict[str, Any]]:
        """Wait until ``count`` distinct verified events arrived (bound it with asyncio.timeout)."""
        while len(events := self.events) < count:
            await self._next()
        return events

    async def wait_deliveries(self, count: int) -> list[ReceivedWebhook]:
        """Wait until ``count`` requests arrived, verified or not (bound it in time)."""
        while len(self.deliveries) < count:
            await self._next()
        return list(self.deliveries)

    async def _next(self) -> None:
        changed = self._changed
        if changed is None:
            raise RuntimeError("the collector is not running")
        changed.clear()
        await changed.wait()

    def wait_events_blocking(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """Block until ``count`` distinct verified events arrived; TimeoutError past ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(events := self.events) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(events)} of {count} webhook events in {timeout} s")
                self._arrived.wait(left)
        return events

    async def _receive(self, request: web.Request) -> web.Response:
        if (request.content_length or 0) > DEFAULT_MAX_BODY:
            return web.Response(status=413)
        body = await request.read()
        signatures = request.headers.getall(SIGNATURE_HEADER, [])
        signature = signatures[0] if signatures else None
        try:
            verify(body, signature, self.secret)
            verified = len(signatures) == 1
        except WebhookSignatureError:
            verified = False
        delivery = ReceivedWebhook(
            body, signature, len(signatures), verified, _decode(body), 200, time.monotonic()
        )
        status = 200 if verified else 401
        if self._status is not None:
            status = self._status(delivery)
        delivery = msgspec.structs.replace(delivery, status=status)
        self.deliveries.append(delivery)
        if self._changed is not None:
            self._changed.set()
        with self._arrived:
            self._arrived.notify_all()
        return web.Response(status=status)


class ThreadedCollector(BackgroundServer):
    """A ``WebhookCollector`` on its own event loop in a daemon thread."""

    _what = "webhook collector"

    def __init__(self, *, timeout: float = 10.0, **options: Any) -> None:
        """Build the collector (``WebhookCollector``'s options); ``start`` runs it."""
        super().__init__(timeout=timeout)
        self.collector = WebhookCollector(**options)

    async def _open(self) -> None:
        await self.collector.start()

    async def _close(self) -> None:
        await self.collector.stop()

    @property
    def url(self) -> str:
        """The URL deliveries go to."""
        return self.collector.url

    @property
    def secret(self) -> SigningSecret:
        """The signing secret the collector verifies with."""
        return self.collector.secret

    @property
    def deliveries(self) -> list[ReceivedWebhook]:
        """A snapshot of every request received."""
        return list(self.collector.deliveries)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The verified envelopes, once per event id, in arrival order."""
        return self.collector.events

    def subscription(self, events: Iterable[str] | None = None) -> Subscription:
        """Return a subscription of this collector for ``events`` (None: all)."""
        return self.collector.subscription(events)

    def wait(self, count: int, timeout: float | None = None) -> list[dict[str, Any]]:
        """Block until ``count`` distinct verified events arrived; return them."""
        return self.collector.wait_events_blocking(count, timeout or self.timeout)
