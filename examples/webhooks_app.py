r"""A FastAPI app that receives HelpCrunch webhooks and answers each new customer message.

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
again. The app's one `HelpCrunch` client is created in the lifespan; the handler
calls through ``client.with_options(max_retries=0, timeout=5.0,
max_rate_limit_wait=0)``, a view on the same pool and cap that fails fast: a
webhook's sender should not wait, and a failed handler is simply delivered again.

The answer, with the write API: the customer is tagged (``HELPCRUNCH_ANSWER_TAG``,
default ``Auto-answered``; tagging twice is harmless) and a private note is posted
in the chat, as the agent ``HELPCRUNCH_AGENT_ID`` (default: the account's first
agent). Only ``message.chat.customer`` is answered: the note fires
``message.private`` and the tag ``customer.tags_changed``, which are acknowledged
and ignored, so the app never answers its own writes. A chat or customer deleted
meanwhile is logged and acknowledged, not retried for ever; a note whose fate the
client cannot know (``AmbiguousWriteError``) is logged, not posted again, since a
second note is worse than a missing one.

Configuration comes from the environment: ``HELPCRUNCH_API_KEY`` (required),
``HELPCRUNCH_WEBHOOK_SECRET_FILE`` (required: a file holding the signing key),
``HELPCRUNCH_BASE_URL``, ``HELPCRUNCH_ANSWER_TAG``, ``HELPCRUNCH_AGENT_ID``. With
several workers, give the receiver a shared dedup store (``webhooks.RedisDedup``)
instead of the in-memory default.
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
    """The webhook handler: answers each new customer message, acknowledges the rest."""

    def __init__(self, tag: str) -> None:
        """Start without a client: the lifespan sets it and the agent who writes the notes."""
        self.tag = tag
        self.api: hc.HelpCrunch | None = None
        self.agent_id: int | None = None

    async def __call__(self, event: webhooks.Event) -> None:
        """Handle one event (called once per event id; an exception means "deliver again")."""
        match event:
            case webhooks.MessageChatCustomer(chat_id=chat_id, customer_id=customer_id):
                await self.answer(chat_id, customer_id, event.message.id)
            case _:
                # The app's own note (message.private) and tag (customer.tags_changed)
                # arrive here too: acknowledged, never answered.
                logger.debug("ignored %s", type(event).__name__)

    async def answer(self, chat_id: int, customer_id: int | None, message_id: int) -> None:
        """Tag the chat's customer and post a private note in the chat."""
        api, agent_id = self.api, self.agent_id
        if api is None or agent_id is None:
            raise RuntimeError("the app has not started")
        try:
            if customer_id is None:
                chat = await api.chats.get(chat_id)
                customer_id = chat.customer.id if chat.customer else None
            if customer_id is not None:
                await api.customers.tag(customer_id, [self.tag])
            note = f"Auto-answer to message {message_id}: the customer is tagged {self.tag!r}."
            posted = await api.chats.send_message(chat_id, note, agent=agent_id, private=True)
        except hc.NotFoundError:
            logger.info("chat %s or its customer is gone: nothing to answer", chat_id)
            return
        except hc.AmbiguousWriteError as error:
            logger.warning(
                "chat %s: the note may not have been posted; not sent again: %s", chat_id, error
            )
            return
        logger.info(
            "answered message %s in chat %s of customer %s with note %s",
            message_id,
            chat_id,
            customer_id,
            posted.id,
        )


responder = Responder(os.environ.get("HELPCRUNCH_ANSWER_TAG", "Auto-answered"))
receiver = webhooks.asgi_app(responder, secret=signing_secret())


async def note_author(client: hc.HelpCrunch) -> int:
    """Return the agent who writes the notes: HELPCRUNCH_AGENT_ID, else the first agent."""
    configured = os.environ.get("HELPCRUNCH_AGENT_ID")
    if configured:
        if not (configured.isascii() and configured.isdigit()):
            raise RuntimeError(f"HELPCRUNCH_AGENT_ID is an agent's numeric id, got {configured!r}")
        return int(configured)
    agents = (await client.agents.list(limit=1)).data
    if not agents:
        raise RuntimeError("the account has no agent to write the notes: set HELPCRUNCH_AGENT_ID")
    return agents[0].id


@contextlib.asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """Open the client (inside the running loop, as aiohttp requires) and the receiver."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # The key from HELPCRUNCH_API_KEY, the base URL from HELPCRUNCH_BASE_URL if set.
    async with hc.HelpCrunch() as client, receiver:
        responder.agent_id = await note_author(client)
        # Fail fast inside a webhook: the sender delivers again if the handler fails.
        responder.api = client.with_options(max_retries=0, timeout=5.0, max_rate_limit_wait=0)
        try:
            yield
        finally:
            responder.api = None


app = FastAPI(title="HelpCrunch webhooks", lifespan=lifespan)
app.mount("/webhooks", receiver)
