"""`aiohttp_handler`: the webhook receiver as an aiohttp.web route handler.

``app.router.add_post("/webhooks", route)``; with a spool, also
``app.cleanup_ctx.append(route.lifespan)`` so that its worker starts with the
app (and drains what a previous run left) and stops with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

from helpcrunch_async._core.delivery import (
    BAD_REQUEST,
    METHOD_NOT_ALLOWED,
    TOO_LARGE,
    content_length,
)
from helpcrunch_async._core.signature import SIGNATURE_HEADER
from helpcrunch_async.webhooks._receiver import Receiver

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aiohttp import web

    from helpcrunch_async._core.signature import SecretsArgument
    from helpcrunch_async.webhooks._dedup import Dedup
    from helpcrunch_async.webhooks._receiver import Handler

__all__ = ["AiohttpHandler", "AiohttpRoute", "aiohttp_handler"]

# The read size; the limit is checked after each chunk, so at most this much past it is read.
_CHUNK = 64 * 1024


class AiohttpHandler:
    """An aiohttp.web handler that receives webhooks; build it with `aiohttp_handler`."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    def __repr__(self) -> str:
        return f"AiohttpHandler({self.receiver!r})"

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        """Receive one delivery; the answer is always empty."""
        # Imported on use: `import helpcrunch_async` need not load the server (about 0.1 s).
        from aiohttp import web  # noqa: PLC0415 -- imported on use, as said above

        if request.method != "POST":
            return web.Response(status=METHOD_NOT_ALLOWED, headers={"Allow": "POST"})
        declared = content_length(request.headers.getall("Content-Length", []))
        if isinstance(declared, str):
            return web.Response(status=BAD_REQUEST)
        limit = self.receiver.max_body
        if declared is not None and declared > limit:
            return web.Response(status=TOO_LARGE)
        body = bytearray()
        async for chunk in request.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > limit:
                return web.Response(status=TOO_LARGE)
        signatures = request.headers.getall(SIGNATURE_HEADER, [])
        return web.Response(status=await self.receiver.deliver(bytes(body), signatures))

    async def lifespan(self, app: web.Application) -> AsyncIterator[None]:
        """Start the spool's worker with ``app`` and stop it with it (for ``app.cleanup_ctx``)."""
        del app
        await self.receiver.start()
        try:
            yield
        finally:
            await self.receiver.stop()


class AiohttpRoute(Protocol):
    """What `aiohttp_handler` returns: a coroutine function (as aiohttp.web wants a route).

    ``lifespan`` is for ``app.cleanup_ctx`` and ``receiver`` the shared logic.
    """

    receiver: Receiver

    def lifespan(self, app: web.Application) -> AsyncIterator[None]:
        """Start the spool's worker with ``app`` and stop it with it."""
        ...

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        """Receive one delivery."""
        ...


def aiohttp_handler(
    handle: Handler,
    *,
    secret: SecretsArgument,
    dedup: Dedup | None = None,
    **options: Any,
) -> AiohttpRoute:
    """Return an aiohttp.web handler that verifies, deduplicates and hands deliveries to ``handle``.

    The arguments and options are `asgi_app`'s. Add it as a POST route; with
    a spool, also ``app.cleanup_ctx.append(route.lifespan)``.
    """
    receiver = Receiver(handle, secret=secret, dedup=dedup, **options)
    del secret
    handler = AiohttpHandler(receiver)

    # A true coroutine function: aiohttp wraps (with a deprecation warning) anything else.
    async def route(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    route.__dict__.update(receiver=receiver, lifespan=handler.lifespan)
    return cast("AiohttpRoute", route)
