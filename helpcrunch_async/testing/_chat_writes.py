"""The emulator's chat writes: ``POST /chats``, the ``PUT /chats/*`` updates, ``POST /messages``.

Every update takes the chat id in the body (``{"id": ..., ...}``) and answers the chat
object; a missing chat is 404 (``not_fount``, sic, on the read endpoints, as their page
spells it; ``chat_not_found`` elsewhere in the old style). Choices where the pages
contradict each other or say nothing:

- ``POST /chats`` needs ``customer`` and ``application`` (the en/pl pages: required),
  answers ``Readings.chat_created`` (201 or 200) with an ``empty`` chat stamped now.
- ``PUT /chats/status`` takes every spelling a page uses (``new``, ``opened``/``open``,
  ``pending``, ``on hold``/``on-hold``/``onhold``, ``no communication``, ``closed``) and
  stores the newest page's (``on hold``); closing stamps ``closedAt`` (by an agent).
- ``PUT /chats/snooze``: ``snoozedUntil`` an integer or numeric string, null unsnoozes.
- ``PUT /chats/rate``: ``perfect``, ``great``, ``average``, ``poor``, ``very poor``, only
  on a closed chat not yet rated with at least one agent message; otherwise 400
  ``invalid_request`` with the page's own typo ("Chat must me closed...").
- ``POST /messages``: ``type`` ``message`` (default) or ``private``; no ``agent`` posts
  as the customer. A customer's message reopens a closed chat and makes an ``empty``
  one ``new``; an agent's reply makes ``new`` and ``empty`` ones ``opened``; a
  private note, which the customer never sees, moves no status.

Webhooks: every applied write tells the account's ``WebhookHub`` (its docstring lists
the calls), whose one rule (``_webhook_events`` rule 7) decides what fires: a created
chat ``chat.new``; an update what the chat's difference fires (``chat.status_updated``
and ``chat.closed``, ``chat.assigned``, ``chat.snoozed``/``chat.unsnoozed``,
``chat.rated``; a department or a read mark none, as none is documented); a posted
message its own event (``message.chat.agent``, ``message.private``,
``message.chat.customer``), then what the chat's change fires (a reply that opens a
new chat: ``chat.status_updated``). A refused write (4xx) fires none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from helpcrunch_async.testing._chat_records import APPLICATION_IDS, Customer, Message
from helpcrunch_async.testing._dataset import NULL_TS
from helpcrunch_async.testing._wire import errors_body, status_body
from helpcrunch_async.testing._writes import MISSING, OK, Reply, decode_json, refusal

if TYPE_CHECKING:
    from collections.abc import Callable

    from helpcrunch_async.testing._chat_records import Chat
    from helpcrunch_async.testing._chats import ChatData
    from helpcrunch_async.testing._webhook_hub import WebhookHub
    from helpcrunch_async.testing._written import Readings

__all__ = ["ChatWrites"]

_STATUSES = {
    "new": "new",
    "opened": "opened",
    "open": "opened",
    "pending": "pending",
    "on hold": "on hold",
    "on-hold": "on hold",
    "onhold": "on hold",
    "no communication": "no communication",
    "closed": "closed",
}
RATINGS = ("perfect", "great", "average", "poor", "very poor")


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class ChatWrites:
    """The chat and message write routes over one account's chats."""

    def __init__(
        self,
        chats: ChatData,
        readings: Readings,
        *,
        style: Callable[[], str],
        clock: Callable[[], float],
        hub: WebhookHub,
    ) -> None:
        """Write into ``chats``; ``style`` gives the error style, ``clock`` unix seconds.

        ``hub`` hears every applied change (see the module docstring).
        """
        self.chats = chats
        self._hub = hub
        self.readings = readings
        self._style = style
        self._clock = clock

    def _now(self) -> int:
        # Never before the account's latest timestamp (the drift clock runs ahead of it).
        return self.chats.customers.stamp(int(self._clock()))

    def _invalid(self, code: str, message: str) -> Reply:
        return refusal(code, message, self._style())

    def _chat_missing(self, code: str = "chat_not_found") -> Reply:
        if self._style() == "new":
            return Reply(MISSING, status_body(MISSING, "new", chat=True))
        return Reply(MISSING, errors_body([(code, "Chat is missing")]))

    def _agent_index(self, agent_id: object) -> int | None:
        for k, agent in enumerate(self.chats.team.agents):
            if agent.id == agent_id:
                return k
        return None

    def _department_index(self, department_id: object) -> int | None:
        for k, department in enumerate(self.chats.team.departments):
            if department.id == department_id:
                return k
        return None

    def _reply(self, index: int, status: int = OK) -> Reply:
        return Reply(status, self.chats.chat_json(index), applied=True)

    def create(self, raw: bytes) -> Reply:  # noqa: PLR0911 -- one answer per documented refusal
        """``POST /chats``: an empty chat for a customer."""
        body = decode_json(raw)
        if not isinstance(body, dict):
            return self._invalid("customer", "This value should not be blank.")
        customer_id, application = _int(body.get("customer")), _int(body.get("application"))
        if customer_id is None:
            return self._invalid("customer", "This value should be of type numeric.")
        if application not in APPLICATION_IDS:
            return self._invalid("application", "application value is invalid")
        assignee = department = None
        if body.get("assignee") is not None:
            assignee = self._agent_index(body["assignee"])
            if assignee is None:
                return self._invalid("invalid_chat_value", "assignee value is invalid")
        if body.get("department") is not None:
            department = self._department_index(body["department"])
            if department is None:
                return self._invalid("invalid_chat_value", "department value is invalid")
        data = self.chats.customers
        ref = data.find(customer_id)
        if ref is None:
            return Reply(MISSING, status_body(MISSING, self._style()))
        person = msgspec.json.decode(data.body(ref), type=dict[str, Any])
        customer = Customer(
            customer_id,
            person.get("name"),
            person.get("email"),
            person.get("userId"),
            frozenset(tag["name"] for tag in person.get("tags") or ()),
        )
        fields = {
            "created_at": self._now(),
            "application_id": application,
            "assignee": assignee,
            "department": department,
            "created_with": "public_api",
        }
        index = self.chats.open_chat(customer, fields)
        self._hub.emit("chat.new", chat=self.chats.chat_id(index))
        return self._reply(index, self.readings.chat_created)

    def _target(self, body: object) -> tuple[int, dict[str, Any]] | None:
        if not isinstance(body, dict):
            return None
        chat_id = _int(body.get("id"))
        index = None if chat_id is None else self.chats.find(chat_id)
        return None if index is None else (index, body)

    def update(self, action: str, raw: bytes) -> Reply:
        """``PUT /chats/{action}`` with ``{"id": ..., ...}``."""
        handler = _ACTIONS.get(action)
        if handler is None:
            return Reply(MISSING, status_body(MISSING, self._style()))
        found = self._target(decode_json(raw))
        if found is None:
            return self._chat_missing(
                "not_fount" if action.startswith("read") else "chat_not_found"
            )
        index, body = found
        chat_id = self.chats.chat_id(index)
        before = self._hub.chat_before(chat_id)
        reply = handler(self, index, body)
        if reply.applied:
            self._hub.chat_changed(chat_id, before)
        return reply

    def _status(self, index: int, body: dict[str, Any]) -> Reply:
        raw = body.get("status")
        status = _STATUSES.get(raw) if isinstance(raw, str) else None
        if status is None:
            return self._invalid("invalid_chat_value", "status value is invalid")
        chat = self.chats.touch(index)
        now = self._now()
        if status == "closed" and chat.status != "closed":
            chat.closed_at, chat.closed_by = now, "agent"
        elif status != "closed":
            chat.closed_at = chat.closed_by = None
        chat.status = status
        chat.changed_at = now
        return self._reply(index)

    def _assignee(self, index: int, body: dict[str, Any]) -> Reply:
        agent = None
        if body.get("assignee") is not None:
            agent = self._agent_index(body["assignee"])
            if agent is None:
                return self._invalid("invalid_chat_value", "assignee value is invalid")
        chat = self.chats.touch(index)
        chat.assignee, chat.changed_at = agent, self._now()
        return self._reply(index)

    def _department(self, index: int, body: dict[str, Any]) -> Reply:
        department = None
        if body.get("department") is not None:
            department = self._department_index(body["department"])
            if department is None:
                return self._invalid("invalid_chat_value", "department value is invalid")
        chat = self.chats.touch(index)
        chat.department, chat.changed_at = department, self._now()
        return self._reply(index)

    def _snooze(self, index: int, body: dict[str, Any]) -> Reply:
        until = body.get("snoozedUntil")
        if isinstance(until, str) and until.isascii() and until.isdigit():
            until = int(until)
        if until is not None and _int(until) is None:
            return self._invalid("snoozedUntil", "This value should be of type numeric.")
        chat = self.chats.touch(index)
        chat.snoozed_until = NULL_TS if until is None else until
        chat.changed_at = self._now()
        return self._reply(index)

    def _rate(self, index: int, body: dict[str, Any]) -> Reply:
        rating = body.get("rating")
        if rating not in RATINGS:
            return self._invalid("rating", "rating value is invalid")
        chat = self.chats.chat(index)
        if chat.status != "closed" or chat.rating is not None or not self._agent_wrote(chat):
            return self._invalid(
                "invalid_request",
                "Chat must me closed to rate it, not rated yet, and have an agent message",
            )
        chat = self.chats.touch(index)
        chat.rating, chat.changed_at = str(rating), self._now()
        return self._reply(index)

    def _agent_wrote(self, chat: Chat) -> bool:
        if self.chats.derive(chat).wrote:
            return True
        count = self.chats.message_count(chat)
        return any(self.chats.message(chat, j).agent is not None for j in range(count))

    def mark_read(self, index: int, body: dict[str, Any], who: str) -> Reply:
        """``PUT /chats/readByAgent`` or ``/readByCustomer``: ``{"id", "read": true}``."""
        if body.get("read") is not True:
            return self._invalid("read", "This value should be true.")
        chat = self.chats.touch(index)
        chat.read_by[who] = True
        return self._reply(index)

    def message(self, raw: bytes) -> Reply:  # noqa: PLR0911 -- one answer per documented refusal
        """``POST /messages``: ``{chat, text, agent?, type?, markdownText?}``."""
        body = decode_json(raw)
        if not isinstance(body, dict):
            return self._invalid("invalid_chat_value", "Invalid chat ID")
        chat_id = _int(body.get("chat"))
        if chat_id is None:
            return self._invalid("invalid_chat_value", "Invalid chat ID")
        index = self.chats.find(chat_id)
        if index is None:
            return self._chat_missing()
        text, kind = body.get("text"), body.get("type", "message")
        if not isinstance(text, str) or not text:
            return self._invalid("text", "This value should not be blank.")
        if kind not in ("message", "private"):
            return self._invalid("type", "type value is invalid")
        agent = None
        if body.get("agent") is not None:
            agent = self._agent_index(body["agent"])
            if agent is None:
                return refusal("entity_not_found", "Agent not found", self._style(), MISSING)
        message = Message(
            id=0,
            time=self._now(),
            sender="customer" if agent is None else "agent",
            agent=agent,
            type=kind,
            text=text,
            read=False,
            edited_at=None,
            broadcast_type=None,
        )
        before = self._hub.chat_before(chat_id)
        chat = self.chats.post(index, message)
        if agent is None and chat.status in ("closed", "empty", "no communication"):
            chat.status = "opened" if chat.status == "closed" else "new"
            chat.closed_at = chat.closed_by = chat.rating = None
        elif agent is not None and kind == "message" and chat.status in ("new", "empty"):
            chat.status = "opened"
        self._hub.messages_added(chat_id, [message.id], before)
        wire = self.chats.message_wire(chat, message)
        return Reply(OK, msgspec.json.encode(wire), applied=True)


_ACTIONS: dict[str, Callable[[ChatWrites, int, dict[str, Any]], Reply]] = {
    "status": ChatWrites._status,  # noqa: SLF001 -- the class's own table
    "assignee": ChatWrites._assignee,  # noqa: SLF001 -- the class's own table
    "department": ChatWrites._department,  # noqa: SLF001 -- the class's own table
    "snooze": ChatWrites._snooze,  # noqa: SLF001 -- the class's own table
    "rate": ChatWrites._rate,  # noqa: SLF001 -- the class's own table
    "readByAgent": lambda writes, index, body: writes.mark_read(index, body, "agent"),
    "readByCustomer": lambda writes, index, body: writes.mark_read(index, body, "customer"),
}
