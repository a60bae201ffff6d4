"""`Receiver`: what both receivers do with a delivery once its body is read.

The HTTP adapters (`_asgi`, `_aiohttp`) read the body within the size limit
and hand it here with the signature header's values; `Receiver.deliver`
returns the status to answer, by the rules of `_core.delivery`. With a spool it
also owns the `Inbox` and the worker task that drains it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from helpcrunch_async._core.delivery import (
    ACCEPTED,
    BAD_REQUEST,
    BUSY,
    DEFAULT_MAX_BODY,
    DEFAULT_TOLERANCE,
    FAILED,
    UNAUTHORIZED,
)
from helpcrunch_async._core.params import check_optional_seconds, check_positive_int, check_seconds
from helpcrunch_async._core.retry import backoff_delay
from helpcrunch_async._core.signature import signing_secrets
from helpcrunch_async._errors import (
    InvalidParameterError,
    WebhookPayloadError,
    WebhookSignatureError,
)
from helpcrunch_async.webhooks._dedup import Claim, Dedup, MemoryDedup
from helpcrunch_async.webhooks._inbox import Inbox
from helpcrunch_async.webhooks._parse import checked_event, decode

if TYPE_CHECKING:
    import os
    from collections.abc import Awaitable, Callable, Sequence

    from helpcrunch_async._core.signature import SecretsArgument
    from helpcrunch_async._models.events import Event

    Handler = Callable[[Event], Awaitable[None] | None]

__all__ = ["Receiver"]

logger = logging.getLogger("helpcrunch_async.webhooks")

# How many spooled events the worker reads at a time.
_BATCH = 64
# The longest the worker sleeps without looking at the inbox (another process may write it).
_IDLE_POLL = 1.0


async def call_handler(handle: Handler, event: Event) -> None:
    """Call ``handle`` (a coroutine function or a plain function) and wait for it."""
    result = handle(event)
    if inspect.isawaitable(result):
        await result


class Receiver:
    """The receiving side's logic, shared by `asgi_app` and `aiohttp_handler`."""

    def __init__(
        self,
        handle: Handler,
        *,
        secret: SecretsArgument,
        dedup: Dedup | None = None,
        tolerance: float | None = DEFAULT_TOLERANCE,
        max_body: int = DEFAULT_MAX_BODY,
        spool: str | os.PathLike[str] | Inbox | None = None,
        retry_base: float = 1.0,
        retry_cap: float = 300.0,
        clock: Callable[[], float] = time.time,
        drain: bool = True,
    ) -> None:
        self._keys = signing_secrets(secret)
        del secret
        if not callable(handle):
            raise InvalidParameterError(f"the handler must be callable, got {handle!r}")
        if dedup is not None and not isinstance(dedup, Dedup):
            raise InvalidParameterError(
                "dedup must have async claim(event_id) and release(event_id, done=...), "
                f"got {type(dedup).__name__}"
            )
        self._handle = handle
        self._dedup: Dedup = MemoryDedup() if dedup is None else dedup
        self._tolerance = check_optional_seconds("tolerance", tolerance)
        self.max_body = check_positive_int("max_body", max_body)
        self._retry_base = check_seconds("retry_base", retry_base)
        self._retry_cap = check_seconds("retry_cap", retry_cap)
        # The freshness check (rule 5) reads this clock; the spool keeps real time.
        self._clock = clock
        self.inbox = spool if isinstance(spool, Inbox) or spool is None else Inbox(spool)
        # False: the spool is only filled; another process applies it (the sync).
        self._drain_spool = drain
        self._worker: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._wake: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"Receiver(handle={self._handle!r}, spool={self.inbox!r})"

    # -- one delivery ------------------------------------------------------------

    async def deliver(self, body: bytes, signatures: Sequence[str]) -> int:
        """Judge, deduplicate and handle (or spool) one delivery; return the status to answer."""
        try:
            event = checked_event(
                body, signatures, self._keys, tolerance=self._tolerance, now=self._clock()
            )
        except WebhookSignatureError as exc:
            logger.warning("webhook refused (401): %s", exc)
            return UNAUTHORIZED
        except WebhookPayloadError as exc:
            logger.warning("webhook refused (400): %s", exc)
            return BAD_REQUEST
        claim = await self._dedup.claim(event.id)
        if claim is Claim.DONE:
            logger.debug("webhook %s: a duplicate, acknowledged", event.id)
            return ACCEPTED
        if claim is not Claim.NEW:
            logger.debug("webhook %s: a copy of one in hand, not acknowledged (503)", event.id)
            return BUSY
        done = False
        try:
            if self.inbox is not None:
                await self.start()
                await self.inbox.put(event.id, _name(event), bytes(body), time.time())
                if self._wake is not None:
                    self._wake.set()
            else:
                await call_handler(self._handle, event)
            done = True
        except Exception:
            logger.exception(
                "webhook %s: not handled (or not spooled); HelpCrunch will deliver again",
                event.id,
            )
            return FAILED
        finally:
            # Cancelled (the sender hung up) or failed: the claim is dropped, not kept.
            await self._dedup.release(event.id, done=done)
        return ACCEPTED

    # -- the spool's worker ------------------------------------------------------

    async def start(self) -> None:
        """Open the spool and start its worker (no-op without a spool, or if started)."""
        if self.inbox is None or self._worker is not None:
            return
        # Two first deliveries at once must not start two workers.
        async with self._starting:
            if self._worker is not None:
                return
            await self.inbox.open()
            self._wake = asyncio.Event()
            work = self._drain() if self._drain_spool else _idle()
            self._worker = asyncio.create_task(work, name="helpcrunch-webhook-spool")

    async def stop(self) -> None:
        """Stop the worker (an event in hand stays spooled) and close the spool."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        if self.inbox is not None:
            await self.inbox.close()

    async def _drain(self) -> None:
        inbox, wake = self.inbox, self._wake
        if inbox is None or wake is None:  # start() sets both before it starts this task
            return
        while True:
            wake.clear()
            try:
                rows = await inbox.due(time.time(), _BATCH)
                for row in rows:
                    await self._handle_spooled(inbox, row.id, row.body, row.attempts)
                if rows:
                    continue
                upcoming = await inbox.next_due()
            except sqlite3.Error:
                # A file locked by another process past the timeout, a full disk: the
                # events stay spooled, and the worker tries again instead of dying.
                logger.exception("the webhook spool could not be read; trying again")
                upcoming = None
            pause = _IDLE_POLL if upcoming is None else upcoming - time.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=min(max(pause, 0.0), _IDLE_POLL))

    async def _handle_spooled(
        self, inbox: Inbox, event_id: str, body: bytes, attempts: int
    ) -> None:
        try:
            await call_handler(self._handle, decode(body))
        except Exception as exc:
            # Equal jitter (a draw in the upper half of the backoff), not full: a
            # failing handler is never called again at once, in a hot loop.
            delay = backoff_delay(
                attempts + 1,
                base=self._retry_base,
                cap=self._retry_cap,
                rand=0.5 + random.random() / 2,
            )
            logger.exception(
                "spooled webhook %s: the handler failed; retried in %.1f s", event_id, delay
            )
            await inbox.failed(event_id, time.time() + delay, type(exc).__name__)
            return
        await inbox.done(event_id)


async def _idle() -> None:
    # Without draining, the worker only waits for stop() to cancel it.
    await asyncio.Event().wait()


def _name(event: Any) -> str:
    return str(event.name)
