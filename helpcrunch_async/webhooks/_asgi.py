"""`asgi_app`: the webhook receiver as a raw ASGI application (no Starlette needed).

Mount it in FastAPI or Starlette (``app.mount("/webhooks", receiver)``) or run
it alone under any ASGI server. It answers POST only; the body is read chunk
by chunk and refused with 413 as soon as it is known to be over the limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from helpcrunch_async._core.delivery import (
    BAD_REQUEST,
    METHOD_NOT_ALLOWED,
    TOO_LARGE,
    content_length,
)
from helpcrunch_async._core.signature import SIGNATURE_HEADER
from helpcrunch_async.webhooks._receiver import Receiver

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping
    from types import TracebackType

    from helpcrunch_async._core.signature import SecretsArgument
    from helpcrunch_async.webhooks._dedup import Dedup
    from helpcrunch_async.webhooks._receiver import Handler

    Scope = MutableMapping[str, Any]
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]

__all__ = ["WebhookApp", "asgi_app"]

_SIGNATURE = SIGNATURE_HEADER.lower().encode()


class WebhookApp:
    """An ASGI application that receives webhooks; build it with `asgi_app`.

    With a spool, the worker starts on the ASGI lifespan's startup (when the
    app is the server's top app), on ``async with app:`` (call it from your
    FastAPI lifespan when the app is mounted), or at the first delivery at the
    latest; it stops on shutdown or on leaving the ``async with``.
    """

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def __repr__(self) -> str:
        return f"WebhookApp({self.receiver!r})"

    async def __aenter__(self) -> Self:
        """Start the spool's worker (nothing to do without a spool)."""
        await self.receiver.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the spool's worker and close the spool."""
        await self.receiver.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection scope."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            await _answer(send, METHOD_NOT_ALLOWED, [(b"allow", b"POST")])
            return
        signatures, lengths = _headers(scope["headers"])
        declared = content_length(lengths)
        limit = self.receiver.max_body
        if isinstance(declared, str):
            await _answer(send, BAD_REQUEST)
        elif declared is not None and declared > limit:
            await _answer(send, TOO_LARGE)
        else:
            body = await _read(receive, limit)
            if isinstance(body, int):
                await _answer(send, body)
            elif body is not None:
                await _answer(send, await self.receiver.deliver(body, signatures))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.receiver.start()
                except Exception as exc:  # noqa: BLE001 -- reported to the server, as ASGI asks
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.receiver.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _headers(raw: list[tuple[bytes, bytes]]) -> tuple[list[str], list[str]]:
    """Return the values of the signature and of the Content-Length headers."""
    signatures: list[str] = []
    lengths: list[str] = []
    for name, value in raw:
        lowered = bytes(name).lower()
        if lowered == _SIGNATURE:
            signatures.append(bytes(value).decode("latin-1"))
        elif lowered == b"content-length":
            lengths.append(bytes(value).decode("latin-1"))
    return signatures, lengths


async def _read(receive: Receive, limit: int) -> bytes | int | None:
    """Return the body, `TOO_LARGE` once it is over ``limit`` (reading stops), None on a hang-up."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > limit:
            return TOO_LARGE
        if not message.get("more_body", False):
            return bytes(body)


async def _answer(
    send: Send, status: int, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    # Every answer is empty: a refusal says nothing to whoever sent it (rule 3).
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", b"0"), *(headers or [])],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def asgi_app(
    handle: Handler,
    *,
    secret: SecretsArgument,
    dedup: Dedup | None = None,
    **options: Any,
) -> WebhookApp:
    """Return an ASGI app that verifies, deduplicates and hands each delivery to ``handle``.

    ``handle(event)`` is a coroutine function (or a plain function, called on
    the event loop, so keep it short or spool); its return means done
    (answered 200), an exception means "deliver again" (500).
    ``secret`` is the signing key or several (a rotation); ``dedup`` a
    `MemoryDedup` (the default), a `RedisDedup` or any `Dedup`. Options:
    ``tolerance`` (seconds, default 300; None: no check), ``max_body`` (bytes,
    default 1 MiB), ``spool`` (a SQLite path or `Inbox`: acknowledge once
    stored, handle in a worker), ``retry_base`` / ``retry_cap`` (the worker's
    backoff, seconds), ``drain`` (default True; False only fills the spool, for
    another process to apply: ``helpcrunch-async listen``) and ``clock`` (unix
    seconds, for tests).
    """
    receiver = Receiver(handle, secret=secret, dedup=dedup, **options)
    del secret
    return WebhookApp(receiver)
