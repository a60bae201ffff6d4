"""The webhooks package's public surface is pinned, and no log line of a receiver shows a secret."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from webhook_servers import NOW, event_body

import helpcrunch_async as hc
from helpcrunch_async import webhooks
from helpcrunch_async.webhooks._receiver import Receiver

if TYPE_CHECKING:
    import pytest

EXPECTED = [
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


def test_all_is_pinned_and_sorted() -> None:
    assert webhooks.__all__ == EXPECTED
    assert sorted(EXPECTED, key=lambda n: (not n.isupper(), not n[:1].isupper(), n)) == EXPECTED
    for name in EXPECTED:
        assert getattr(webhooks, name) is not None
    assert hc.webhooks is webhooks


def test_the_errors_are_in_the_one_tree() -> None:
    assert issubclass(webhooks.WebhookSignatureError, webhooks.WebhookError)
    assert issubclass(webhooks.WebhookPayloadError, webhooks.WebhookError)
    assert issubclass(webhooks.WebhookError, hc.HelpCrunchError)
    assert webhooks.WebhookError.__module__ == "helpcrunch_async._errors"


async def test_no_log_line_or_repr_holds_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    secret = "very-secret-signing-key-42"  # noqa: S105 -- a test key

    async def handle(event: webhooks.Event) -> None:
        raise RuntimeError(f"handler failed for {event.id}")

    receiver = Receiver(handle, secret=[secret, "other-key"], clock=lambda: NOW)
    body = event_body("leak-test")
    caplog.set_level(logging.DEBUG, logger="helpcrunch_async")
    assert await receiver.deliver(body, [webhooks.sign(body, "wrong")]) == 401
    assert await receiver.deliver(b"{", [webhooks.sign(b"{", secret)]) == 400
    assert await receiver.deliver(body, [webhooks.sign(body, secret)]) == 500
    assert caplog.records
    text = caplog.text + repr(receiver) + repr(receiver._keys)
    assert secret not in text
    assert webhooks.sign(body, secret) not in text
    assert body.decode() not in text
