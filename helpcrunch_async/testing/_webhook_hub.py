"""``WebhookHub``: from a change to the emulated account to an event for the sender.

``Emulator.emit`` (the one entry point every mutation of the account calls) and
``Emulator.trigger`` land here. The hub reads the records an event is about from the
live account, exactly as the REST API would serialise them, shapes them with
``_webhook_events`` and hands them to the ``WebhookSender``. When no subscription
takes an event type, emitting it reads nothing.

What a write route of the emulated API (``_writes``, ``_chat_writes``) calls around
the write it applied (a refused write fires nothing): a created
customer ``emit("customer.new", customer=id)``; a customer update (PUT, PATCH,
batch, tags) ``customer_before(id)`` before and ``customer_changed(id, before)``
after; a deletion through the dataset fires ``customer.deleted`` by itself
(``Dataset.removing``); a created chat ``emit("chat.new", chat=id)``; a chat update
(status, assignee, snooze, rating) ``chat_before`` and ``chat_changed``; a posted
message ``chat_before`` before, and ``messages_added`` after (its event, then what
the chat's change fires).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from helpcrunch_async.testing._webhook_events import (
    CHAT_EVENTS,
    CUSTOMER_EVENTS,
    chat_changes,
    chat_data,
    check_event,
    customer_changes,
    customer_data,
    message_data,
    message_event,
    with_fields,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from helpcrunch_async.testing._chat_records import Chat
    from helpcrunch_async.testing._chats import ChatData
    from helpcrunch_async.testing._dataset import Dataset
    from helpcrunch_async.testing._webhooks import DeliveryRecord, WebhookSender

Record = int | dict[str, Any] | None
"""An id of a live record, or the record as the REST API serialises it (one now gone)."""

_AGENT_MESSAGE_EVENTS = frozenset({"message.private", "message.chat.agent", "message.email.agent"})


class WebhookHub:
    """Turn account changes into webhook events (see the module docstring)."""

    def __init__(self, customers: Dataset, chats: ChatData, sender: WebhookSender) -> None:
        """Read records from ``customers`` and ``chats``; send through ``sender``."""
        self._customers = customers
        self._chats = chats
        self.sender = sender

    def emit(
        self,
        event: str,
        *,
        customer: Record = None,
        chat: Record = None,
        message: Record = None,
        fields: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Send ``event`` about these records; return its id (None: nobody takes it).

        Customer events need ``customer``; chat events ``chat``; message events
        ``chat`` and ``message``. Each is an id looked up now, or the REST record.
        """
        check_event(event)
        if not self.sender.wants(event):
            return None
        if event in CUSTOMER_EVENTS:
            data = customer_data(self._customer(customer))
        elif event in CHAT_EVENTS:
            data = chat_data(self._chat(chat))
        else:
            chat_record = self._chat(chat)
            data = message_data(
                chat_record,
                self._message(chat_record["id"], message),
                agent_event=event in _AGENT_MESSAGE_EVENTS,
            )
        return self.sender.submit(event, with_fields(data, fields))

    def trigger(
        self,
        event: str,
        *,
        customer: Record = None,
        chat: Record = None,
        message: Record = None,
        fields: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Send ``event`` now as if it happened, as ``stripe trigger`` does.

        The records default to the account's first customer or chat, and a message
        event's message to the chat's newest message that fires this event (else its
        newest). Nothing in the account changes; ``fields`` overrides ``eventData``.
        """
        check_event(event)
        if event in CUSTOMER_EVENTS:
            customer = self._first_customer() if customer is None else customer
        else:
            chat = self._first_chat() if chat is None else chat
            if event not in CHAT_EVENTS and message is None:
                message = self._fitting_message(event, chat)
        return self.emit(event, customer=customer, chat=chat, message=message, fields=fields)

    # -- what the emulator's own changes fire --------------------------------------

    @property
    def listening(self) -> bool:
        """Whether any subscription exists (else the helpers below read nothing)."""
        return bool(self.sender.subscriptions)

    def customer_removed(self, body: bytes) -> None:
        """Fire ``customer.deleted`` for a customer about to be removed (its REST bytes)."""
        if self.sender.wants("customer.deleted"):
            self.emit("customer.deleted", customer=msgspec.json.decode(body, type=dict[str, Any]))

    def chats_added(self, chat_ids: list[int]) -> None:
        """Fire ``chat.new`` and each first message's event for new chats."""
        if not self.listening:
            return
        for chat_id in chat_ids:
            self.emit("chat.new", chat=chat_id)
            chat, count = self._messages(chat_id)
            self._messages_fired(chat_id, [self._message_record(chat, j) for j in range(count)])

    def messages_added(
        self, chat_id: int, message_ids: list[int], before: dict[str, Any] | None
    ) -> None:
        """Fire each new message's event, then what the chat's change fires."""
        if before is None:
            return
        self._messages_fired(chat_id, [self._message(chat_id, m) for m in message_ids])
        self.chat_changed(chat_id, before)

    def chat_before(self, chat_id: int) -> dict[str, Any] | None:
        """Return the chat as it is before a change (None, reading nothing, if none listens).

        Call it before changing a chat and ``chat_changed`` after.
        """
        return self._chat(chat_id) if self.listening else None

    def chat_changed(self, chat_id: int, before: dict[str, Any] | None) -> None:
        """Fire what the chat's change since ``before`` fires (``chat_changes``)."""
        if before is not None:
            for event in chat_changes(before, self._chat(chat_id)):
                self.emit(event, chat=chat_id)

    def customer_before(self, customer_id: int) -> dict[str, Any] | None:
        """Return the customer before a change (None, reading nothing, if none listens).

        Call it before changing a customer and ``customer_changed`` after.
        """
        return self._customer(customer_id) if self.listening else None

    def customer_changed(self, customer_id: int, before: dict[str, Any] | None) -> None:
        """Fire what the customer's change since ``before`` fires (``customer_changes``)."""
        if before is not None:
            for event in customer_changes(before, self._customer(customer_id)):
                self.emit(event, customer=customer_id)

    def _messages_fired(self, chat_id: int, messages: list[dict[str, Any]]) -> None:
        for record in messages:
            event = message_event(record)
            if event is not None:
                self.emit(event, chat=chat_id, message=record)

    # -- reading the account ------------------------------------------------------

    def _customer(self, customer: Record) -> dict[str, Any]:
        if isinstance(customer, dict):
            return customer
        if customer is None:
            raise ValueError("a customer event needs customer= (an id or the record)")
        body = self._customers.customer_json(customer)
        if body is None:
            raise ValueError(f"no customer with id {customer}")
        return msgspec.json.decode(body, type=dict[str, Any])

    def _chat_index(self, chat_id: int) -> int:
        index = self._chats.find(chat_id)
        if index is None:
            raise ValueError(f"no chat with id {chat_id}")
        return index

    def _chat(self, chat: Record) -> dict[str, Any]:
        if isinstance(chat, dict):
            return chat
        if chat is None:
            raise ValueError("chat and message events need chat= (an id or the record)")
        body = self._chats.chat_json(self._chat_index(chat))
        return msgspec.json.decode(body, type=dict[str, Any])

    def _messages(self, chat_id: int) -> tuple[Chat, int]:
        chat = self._chats.chat(self._chat_index(chat_id))
        return chat, self._chats.message_count(chat)

    def _message_record(self, chat: Chat, j: int) -> dict[str, Any]:
        wire = self._chats.message_wire(chat, self._chats.message(chat, j))
        return msgspec.to_builtins(wire)  # type: ignore[no-any-return]

    def _message(self, chat_id: int, message: Record) -> dict[str, Any]:
        if isinstance(message, dict):
            return message
        if message is None:
            raise ValueError("a message event needs message= (an id or the record)")
        chat, count = self._messages(chat_id)
        # Events are about recent messages: search from the newest.
        for j in range(count - 1, -1, -1):
            record = self._message_record(chat, j)
            if record["id"] == message:
                return record
        raise ValueError(f"chat {chat_id} has no message with id {message}")

    def _first_customer(self) -> int:
        data = self._customers
        if data.total == 0:
            raise ValueError("the account has no customer to trigger a customer event for")
        return data.ref_id(data.refs(0, 1, None, descending=False)[0])

    def _first_chat(self) -> int:
        first = self._chats.page(None, 0, 1, descending=False)
        if not first:
            raise ValueError("the account has no chat: start the emulator with chats >= 1")
        return self._chats.chat_id(first[0])

    def _fitting_message(self, event: str, chat: Record) -> dict[str, Any]:
        chat_id = chat["id"] if isinstance(chat, dict) else chat
        if chat_id is None:
            raise ValueError("a message event needs chat=")
        found, count = self._messages(chat_id)
        if count == 0:
            raise ValueError(f"chat {chat_id} has no message: give another chat=")
        for j in range(count - 1, -1, -1):
            record = self._message_record(found, j)
            if message_event(record) == event:
                return record
        return self._message_record(found, count - 1)


class WebhookMethods:
    """The ``Emulator``'s webhook methods, over its ``webhooks`` hub (a base of ``Emulator``)."""

    webhooks: WebhookHub

    def emit(
        self,
        event: str,
        *,
        customer: Record = None,
        chat: Record = None,
        message: Record = None,
        fields: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Deliver ``event`` to the subscriptions that take it; return its id (None: none do).

        The one entry point for every change to the account: each mutation calls it
        once per event it fires, after the change (so the payload shows the new
        state), with the records it is about: ``customer`` for customer events,
        ``chat`` for chat events, ``chat`` and ``message`` for message events, each
        an id read from the live account now, or the record as the REST API
        serialises it (for one already gone: a deleted customer's bytes reach it
        through ``Dataset.removing``, before the removal). ``fields`` are laid over
        ``eventData``. What fires what: the API's writes what HelpCrunch sends for
        them (``_writes``, ``_chat_writes``), ``insert`` ``customer.new``, a deletion
        ``customer.deleted``, ``add_chats`` ``chat.new`` and its messages' events,
        ``add_messages`` each message's event; a change to a chat or a customer
        what the difference fires (``_webhook_events`` rule 7: ``close_chat``
        ``chat.status_updated`` and ``chat.closed``, ``reassign_chat``
        ``chat.assigned``, ...), through ``webhooks.chat_before`` and
        ``webhooks.chat_changed`` (``customer_before``, ``customer_changed``) around
        the change; visits and chat deletions fire none (none is documented).
        """
        return self.webhooks.emit(
            event, customer=customer, chat=chat, message=message, fields=fields
        )

    def trigger(
        self,
        event: str,
        *,
        customer: Record = None,
        chat: Record = None,
        message: Record = None,
        fields: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Send any of the 20 event types now, as ``stripe trigger`` does; return its id.

        The account does not change. Records default to the first customer or chat
        (and a message event's message to the chat's newest one of that kind);
        ``fields`` override ``eventData``'s top-level keys.
        """
        return self.webhooks.trigger(
            event, customer=customer, chat=chat, message=message, fields=fields
        )

    async def webhooks_settled(self) -> None:
        """Wait until every webhook is delivered or given up (bound it with asyncio.timeout)."""
        await self.webhooks.sender.settled()

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        """Every webhook delivery attempt so far, in order."""
        return self.webhooks.sender.records
