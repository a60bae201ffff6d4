r"""A FastAPI app that receives HelpCrunch webhooks and reacts to each new customer message.

Run it::

    HELPCRUNCH_API_KEY=... HELPCRUNCH_WEBHOOK_SECRET_FILE=/run/secrets/helpcrunch-webhook \
        uvicorn webhooks_app:app --app-dir examples

and register ``https://YOUR-HOST/webhooks/`` for ``message.chat.customer`` in HelpCrunch
(Settings, Developers, Webhooks). Try it locally against the emulator::

    python -m helpcrunch_async.testing trigger message.chat.customer \
        --url http://127.0.0.1:8000/webhooks/ --secret-file /run/secrets/helpcrunch-webhook

The pattern: ``webhooks.asgi_app`` is mounted at ``/webhooks``; it verifies each
delivery's signature, drops duplicates (HelpCrunch delivers at least once) and
answers 200 only after the handler returned, so a handler that fails is delivered
again. The handler uses the app's one `HelpCrunch` client, created in the lifespan,
with few retries and a short timeout: a webhook's sender should not wait long.

The reaction is a read for now: the chat and its customer are fetched and what the
app would answer is logged. (With the write API, it would tag the customer and
post a private note in the chat.) A chat or customer deleted in the meantime is
logged and acknowledged, not retried for ever.

Configuration comes from the environment: ``HELPCRUNCH_API_KEY`` (required),
``HELPCRUNCH_WEBHOOK_SECRET_FILE`` (required: a file holding the signing key),
``HELPCRUNCH_BASE_URL``. With several workers, give the receiver a shared dedup
store (``webhooks.RedisDedup``) instead of the in-memory default.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

import helpcrunch_async as hc
from helpcrunch_async import webhooks

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

logger = logging.getLogger("webhooks_app")


def signing_secret() -> webhooks.SigningSecret:
    """Read the webhook signing key from the file that HELPCRUNCH_WEBHOOK_SECRET_FILE names."""
    path = os.environ.get("HELPCRUNCH_WEBHOOK_SECRET_FILE")
    if not path:
        raise RuntimeError("set HELPCRUNCH_WEBHOOK_SECRET_FILE to a file holding the signing key")
    return webhooks.SigningSecret(Path(path).read_text(encoding="utf-8").rstrip("\r\n"))


class Responder:
    """The webhook handler: reacts to each new customer message, acknowledges the rest."""

    def __init__(self) -> None:
        """Start without a client: the lifespan sets it."""
        self.client: hc.HelpCrunch | None = None

    async def __call__(self, event: webhooks.Event) -> None:
        """Handle one event (called once per event id; an exception means "deliver again")."""
        match event:
            case webhooks.MessageChatCustomer(chat_id=chat_id, message=message):
                await self.answer(chat_id, message.text or "")
            case _:
                logger.debug("ignored %s", type(event).__name__)

    async def answer(self, chat_id: int, text: str) -> None:
        """Read the chat and its customer, and log the answer the app would post."""
        client = self.client
        if client is None:
            raise RuntimeError("the app has not started")
        try:
            chat = await client.chats.get(chat_id)
            customer = await client.customers.get(chat.customer.id) if chat.customer else None
        except hc.NotFoundError:
            logger.info("chat %s or its customer is gone: nothing to answer", chat_id)
            return
        name = customer.name if customer and customer.name else "there"
        logger.info(
            "answering chat %s (status %s) of customer %s: 'Hi %s, thanks for %d characters'",
            chat.id,
            chat.status,
            customer.id if customer else None,
            name,
            len(text),
        )


responder = Responder()
receiver = webhooks.asgi_app(responder, secret=signing_secret())


@contextlib.asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Open the client (inside the running loop, as aiohttp requires) and the receiver."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    client = hc.HelpCrunch(
        os.environ.get("HELPCRUNCH_API_KEY"),
        base_url=os.environ.get("HELPCRUNCH_BASE_URL", hc.DEFAULT_BASE_URL),
        max_retries=2,
        timeout=5.0,
    )
    async with client, receiver:
        responder.client = client
        try:
            yield
        finally:
            responder.client = None


app = FastAPI(title="HelpCrunch webhooks", lifespan=lifespan)
app.mount("/webhooks", receiver)
