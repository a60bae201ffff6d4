"""Receive HelpCrunch webhooks with aiohttp.web: acknowledge at once, handle from an inbox."""

import logging
import os
from pathlib import Path

from aiohttp import web

from helpcrunch_async import webhooks

logger = logging.getLogger("webhooks_spool")


async def handle(event: webhooks.Event) -> None:
    """Handle one event: called once per event id, from the inbox; raising means "later"."""
    match event:
        case webhooks.CustomerTagsChanged(customer_id=customer_id, customer=customer):
            tags = ", ".join(tag.name for tag in customer.tags) or "none"
            print(f"customer {customer_id}: tags now {tags}", flush=True)  # noqa: T201 -- the output
        case webhooks.MessageChatCustomer(chat_id=chat_id, message=message):
            print(f"chat {chat_id}: the customer wrote {message.text!r}", flush=True)  # noqa: T201
        case webhooks.UnknownEvent(name=name):
            logger.warning("an event type this version does not know: %s", name)
        case _:
            print(f"{type(event).__name__} {event.id}", flush=True)  # noqa: T201


def make_app() -> web.Application:
    """Build the app: one POST route, and the inbox's worker started and stopped with it."""
    secret_file = Path(os.environ["HELPCRUNCH_WEBHOOK_SECRET_FILE"])
    route = webhooks.aiohttp_handler(
        handle,
        secret=webhooks.SigningSecret(secret_file.read_text().strip()),
        spool=os.environ.get("WEBHOOK_INBOX", "webhooks.sqlite3"),
    )
    app = web.Application()
    app.router.add_post("/webhooks", route)
    app.cleanup_ctx.append(route.lifespan)
    return app


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    web.run_app(make_app(), host="127.0.0.1", port=port, print=None)
