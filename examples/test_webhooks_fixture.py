"""Test your webhook handling with the pytest plugin's fixtures: the emulator delivers, for real.

``helpcrunch_webhooks`` is a receiver on loopback that records every delivery, verified
against its own secret; subscribe an emulator to it and make the account change.
"""

from collections.abc import Callable

from helpcrunch_async import webhooks
from helpcrunch_async.testing import ThreadedCollector, ThreadedEmulator


def test_a_new_chat_sends_its_events(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    helpcrunch_webhooks: ThreadedCollector,
) -> None:
    """A chat opened in the account arrives as chat.new, then its first customer message."""
    subscription = helpcrunch_webhooks.subscription(["chat.new", "message.chat.customer"])
    emulator = helpcrunch_emulator_factory(customers=50, chats=5, webhooks=[subscription])
    [chat_id] = emulator.add_chats(1)
    first, second = helpcrunch_webhooks.wait(2)  # the envelopes, verified, once per event id
    assert (first["event"], second["event"]) == ("chat.new", "message.chat.customer")
    assert first["eventData"]["chat_id"] == chat_id
    delivery = helpcrunch_webhooks.deliveries[1]
    headers = {webhooks.SIGNATURE_HEADER: delivery.signature or ""}
    event = webhooks.parse(delivery.body, headers, helpcrunch_webhooks.secret)
    assert isinstance(event, webhooks.MessageChatCustomer)
    assert event.chat_id == chat_id
