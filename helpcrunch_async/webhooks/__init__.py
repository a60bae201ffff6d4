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
from helpcrunch_async.webhooks._parse import decode, parse

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_TOLERANCE",
    "EVENT_TYPES",
    "SIGNATURE_HEADER",
    "ChatAssigned",
    "ChatClosed",
    "ChatEvent",
    "ChatNew",
    "ChatRated",
    "ChatSnoozed",
    "ChatStatusUpdated",
    "ChatUnsnoozed",
    "CustomerBlocked",
    "CustomerDeleted",
    "CustomerEmailUpdated",
    "CustomerEvent",
    "CustomerNew",
    "CustomerSubscribed",
    "CustomerTagsChanged",
    "CustomerUnblocked",
    "CustomerUnsubscribed",
    "Event",
    "MessageChatAgent",
    "MessageChatCustomer",
    "MessageEmailAgent",
    "MessageEmailCustomer",
    "MessageEvent",
    "MessagePrivate",
    "SigningSecret",
    "UnknownEvent",
    "WebhookChat",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookSignatureError",
    "decode",
    "parse",
    "sign",
    "verify",
]
