"""Receive HelpCrunch webhooks: verified, typed, and handled once.

Verify and decode one delivery yourself::

    from helpcrunch_async import webhooks

    event = webhooks.parse(body, headers, secret)  # raw body bytes, request headers
    match event:
        case webhooks.CustomerTagsChanged(customer_id=cid): ...
        case webhooks.MessageChatCustomer(chat_id=chat, message=m): ...
        case webhooks.UnknownEvent(name=name): ...

The signature is the HMAC-SHA1 hex digest of the raw body under the account's
webhook signing key, in the ``X-HelpCrunch-Signature`` header; `sign` makes one
(for tests and the emulator). Every documented event type has its Struct,
listed in `EVENT_TYPES`; a type this version does not know is an `UnknownEvent`.

Or let a receiver do it all, and handle each event once::

    async def handle(event: webhooks.Event) -> None: ...

    app = webhooks.asgi_app(handle, secret=secret)  # FastAPI: api.mount("/hooks", app)
    route = webhooks.aiohttp_handler(handle, secret=secret)  # aiohttp: add_post("/hooks", route)

Duplicates are acknowledged without a second call (`MemoryDedup`, or
`RedisDedup` across workers); ``spool="inbox.sqlite3"`` acknowledges at once
and hands events to ``handle`` from a durable `Inbox`.
"""

from helpcrunch_async._core.delivery import DEFAULT_MAX_BODY, DEFAULT_TOLERANCE
from helpcrunch_async._core.signature import SIGNATURE_HEADER, SigningSecret, sign, verify
from helpcrunch_async._errors import WebhookError, WebhookPayloadError, WebhookSignatureError
from helpcrunch_async._models.events import (
    EVENT_TYPES,
    ChatAssigned,
    ChatClosed,
    ChatEvent,
    ChatNew,
    ChatRated,
    ChatSnoozed,
    ChatStatusUpdated,
    ChatUnsnoozed,
    CustomerBlocked,
    CustomerDeleted,
    CustomerEmailUpdated,
    CustomerEvent,
    CustomerNew,
    CustomerSubscribed,
    CustomerTagsChanged,
    CustomerUnblocked,
    CustomerUnsubscribed,
    Event,
    MessageChatAgent,
    MessageChatCustomer,
    MessageEmailAgent,
    MessageEmailCustomer,
    MessageEvent,
    MessagePrivate,
    UnknownEvent,
    WebhookChat,
)
from helpcrunch_async._redis.dedup import RedisDedup
from helpcrunch_async.webhooks._aiohttp import AiohttpRoute, aiohttp_handler
from helpcrunch_async.webhooks._asgi import WebhookApp, asgi_app
from helpcrunch_async.webhooks._dedup import Claim, Dedup, MemoryDedup
from helpcrunch_async.webhooks._inbox import Inbox
from helpcrunch_async.webhooks._parse import decode, parse

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_TOLERANCE",
    "EVENT_TYPES",
    "SIGNATURE_HEADER",
    "AiohttpRoute",
    "ChatAssigned",
    "ChatClosed",
    "ChatEvent",
    "ChatNew",
    "ChatRated",
    "ChatSnoozed",
    "ChatStatusUpdated",
    "ChatUnsnoozed",
    "Claim",
    "CustomerBlocked",
    "CustomerDeleted",
    "CustomerEmailUpdated",
    "CustomerEvent",
    "CustomerNew",
    "CustomerSubscribed",
    "CustomerTagsChanged",
    "CustomerUnblocked",
    "CustomerUnsubscribed",
    "Dedup",
    "Event",
    "Inbox",
    "MemoryDedup",
    "MessageChatAgent",
    "MessageChatCustomer",
    "MessageEmailAgent",
    "MessageEmailCustomer",
    "MessageEvent",
    "MessagePrivate",
    "RedisDedup",
    "SigningSecret",
    "UnknownEvent",
    "WebhookApp",
    "WebhookChat",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookSignatureError",
    "aiohttp_handler",
    "asgi_app",
    "decode",
    "parse",
    "sign",
    "verify",
]
