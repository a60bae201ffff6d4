"""The emulator's customer writes, events, organization and applications.

Every handler takes the route's path parameters and the raw body and returns a
`Reply`: the status, the body, and whether the account changed (the write faults of
``_write_faults`` strike only writes that were applied). A write is visible to the
next get, list, search and scan: the customer's object is stored in the dataset
(``Dataset.store``), whose version moves, so cached pages are rebuilt.

What the emulator chose where the vendor's pages contradict each other or say nothing:

- ``POST /customers``: 200 with the bare customer object; a ``userId`` that a live
  customer already has is 400 ``invalid_userId_value``; ``customData`` must be the
  ``[{property, value}]`` list (the create page's write form).
- ``PATCH /customers/{id}`` merges; ``PUT /customers/{id}`` replaces (every writable
  field not sent becomes null, tags and custom data empty). Readings the docs leave
  open are settings (`Readings`).
- ``PUT /customers/batch``: the body is a JSON array of customer objects with ``id``
  (or ``{"customers": [...]}``); more than ten is 400. The answer is 200 with
  ``{"data": [...]}``, one entry per item in order: the customer object, or
  ``{"id", "errors"}`` (404 ``entity_not_found``, 400 field errors) for an item not
  applied. A duplicate ``userId`` refuses that item alone.
- ``PUT`` / ``DELETE /customers/{id}/tags`` with ``{"tags": [{"name"}]}`` add and remove
  tags (unknown ones are created, colour ``#c377e0``) and answer the customer.
- ``DELETE /customers/{id}`` answers 200 ``{}``.
- ``POST /events`` with ``{customer, name, data}`` answers 200 with the event
  ``{id, customer, name, data, createdAt}``.
- ``GET /organization``: ``{"data": {id, domain, teamOnline, chatEnabled}}``;
  ``GET /applications``: ``{"data": [{id, name, displayName, type, active}]}``.

Webhooks: every applied write tells the account's ``WebhookHub`` what changed (its
docstring lists the calls), and the hub's one rule (``_webhook_events`` rule 7)
decides what fires: a create ``customer.new``; an update, a replace, a batch item or
a tag change what the difference fires (``customer.email_updated``,
``customer.tags_changed``; nothing when nothing documented moved); a deletion
``customer.deleted`` (through ``Dataset.removing``). ``POST /events`` fires none (no
event type is documented for it), and a refused write (4xx) none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from helpcrunch_async.testing._chat_records import APPLICATION_IDS
from helpcrunch_async.testing._customer_search import search_customers
from helpcrunch_async.testing._search import Condition, SearchQuery
from helpcrunch_async.testing._wire import errors_body, field_errors_body, status_body
from helpcrunch_async.testing._written import (
    BATCH_MAX,
    Readings,
    Tags,
    customer_fields,
    merged,
    new_customer,
    replaced,
    tag_names,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from helpcrunch_async.testing._dataset import Dataset
    from helpcrunch_async.testing._webhook_hub import WebhookHub

__all__ = ["BAD", "MISSING", "OK", "AccountWrites", "Reply", "decode_json", "refusal"]

OK = 200
BAD = 400
MISSING = 404
_NO_BODY = object()


class Reply(NamedTuple):
    """A write route's answer: status, body, and whether the account changed."""

    status: int
    body: bytes
    applied: bool = False


def refusal(code: str, message: str, style: str, status: int = BAD) -> Reply:
    """Return a refusal with one specific entry (after ``invalid_request`` in the new style)."""
    entries = [(code, message)]
    if style == "new":
        entries.insert(0, ("invalid_request", "Invalid request"))
    return Reply(status, errors_body(entries))


def decode_json(raw: bytes) -> object:
    """Return a request body's JSON, or a sentinel no handler accepts for invalid JSON."""
    try:
        return msgspec.json.decode(raw) if raw else None
    except msgspec.DecodeError:
        return _NO_BODY


class AccountWrites:
    """The customer, event, organization and application routes over one dataset."""

    def __init__(
        self,
        dataset: Dataset,
        readings: Readings,
        *,
        style: Callable[[], str],
        clock: Callable[[], float],
        hub: WebhookHub,
    ) -> None:
        """Write into ``dataset``; ``style`` gives the error style, ``clock`` unix seconds.

        ``hub`` hears every applied change (see the module docstring).
        """
        self.dataset = dataset
        self._hub = hub
        self.readings = readings
        self.tags = Tags()
        self.events: list[dict[str, Any]] = []
        self._style = style
        self._clock = clock

    # -- answers ---------------------------------------------------------------------

    def _invalid(self, problems: list[tuple[str, str]]) -> Reply:
        return Reply(BAD, field_errors_body(problems, self._style()))

    def _missing(self) -> Reply:
        return Reply(MISSING, status_body(MISSING, self._style()))

    def _duplicate_user_id(self) -> Reply:
        return refusal("invalid_userId_value", "userId value is taken", self._style())

    @staticmethod
    def _json(doc: object, status: int = OK) -> Reply:
        return Reply(status, msgspec.json.encode(doc), applied=True)

    def _doc(self, text: str) -> dict[str, Any] | None:
        if not (text.isascii() and text.isdigit()):
            return None
        ref = self.dataset.find(int(text))
        if ref is None:
            return None
        doc = self.dataset.doc(ref)
        if doc is not None:
            return dict(doc)
        decoded: dict[str, Any] = msgspec.json.decode(self.dataset.body(ref))
        return decoded

    def user_id_taken(self, user_id: object, by_other_than: int | None = None) -> bool:
        """Return whether a live customer (other than ``by_other_than``) has ``user_id``."""
        if not isinstance(user_id, str):
            return False
        query = SearchQuery(
            conditions=(Condition("customers.userId", "=", user_id),),
            any_of=False,
            sort=None,
            descending=False,
            offset=0,
            limit=2,
        )
        _, refs = search_customers(self.dataset, query)
        return any(self.dataset.ref_id(ref) != by_other_than for ref in refs)

    # -- customers -------------------------------------------------------------------

    def create(self, raw: bytes) -> Reply:
        """``POST /customers``."""
        fields = customer_fields(decode_json(raw))
        if isinstance(fields, list):
            return self._invalid(fields)
        if self.user_id_taken(fields.get("userId")):
            return self._duplicate_user_id()
        as_object = self.dataset.custom_data_as_object
        doc = self.dataset.create(new_customer(fields, self.tags, as_object=as_object))
        self._hub.emit("customer.new", customer=doc["id"])
        return self._json(doc)

    def _update(self, text: str, body: object, *, replace: bool) -> Reply:
        doc = self._doc(text)
        if doc is None:
            return self._missing()
        fields = customer_fields(body)
        if isinstance(fields, list):
            return self._invalid(fields)
        user_id = fields.get("userId", doc["userId"])
        if user_id != doc["userId"] and self.user_id_taken(user_id, doc["id"]):
            return self._duplicate_user_id()
        before = self._hub.customer_before(doc["id"])
        if replace:
            doc = replaced(doc, fields, self.tags)
        else:
            doc = merged(doc, fields, self.tags, self.readings)
        self.dataset.store(doc)
        self._hub.customer_changed(doc["id"], before)
        return self._json(doc)

    def patch(self, text: str, raw: bytes) -> Reply:
        """``PATCH /customers/{id}``: merge."""
        return self._update(text, decode_json(raw), replace=False)

    def put(self, text: str, raw: bytes) -> Reply:
        """``PUT /customers/{id}``: replace."""
        return self._update(text, decode_json(raw), replace=True)

    def batch(self, raw: bytes) -> Reply:
        """``PUT /customers/batch``: up to ten items, each answered in place."""
        body = decode_json(raw)
        if isinstance(body, dict):
            body = body.get("customers")
        if not isinstance(body, list):
            return self._invalid([("customers", "This value should be a list of customers.")])
        if len(body) > BATCH_MAX:
            return self._invalid(
                [("customers", f"This collection should contain {BATCH_MAX} elements or less.")]
            )
        replace = self.readings.batch_items == "replace"
        out: list[Any] = []
        applied = False
        for item in body:
            ident = item.get("id") if isinstance(item, dict) else None
            if not isinstance(ident, int) or isinstance(ident, bool):
                out.append({"id": ident, "errors": [{"code": "id", "message": "missing id"}]})
                continue
            reply = self._update(str(ident), item, replace=replace)
            if reply.applied:
                applied = True
                out.append(msgspec.json.decode(reply.body))
            else:
                out.append({"id": ident, **msgspec.json.decode(reply.body)})
        return Reply(OK, msgspec.json.encode({"data": out}), applied=applied)

    def delete(self, text: str) -> Reply:
        """``DELETE /customers/{id}``."""
        doc = self._doc(text)
        if doc is None:
            return self._missing()
        self.dataset.delete_ids([doc["id"]])
        return self._json({})

    def tag(self, text: str, raw: bytes, *, add: bool) -> Reply:
        """``PUT`` (add) or ``DELETE`` (remove) ``/customers/{id}/tags``."""
        doc = self._doc(text)
        if doc is None:
            return self._missing()
        body = decode_json(raw)
        names = tag_names(body.get("tags") if isinstance(body, dict) else None)
        if names is None:
            return self._invalid([("tags", "This value should be a list of {name}.")])
        have = [tag["name"] for tag in doc["tags"]]
        wanted = have + names if add else [n for n in have if n not in names]
        before = self._hub.customer_before(doc["id"])
        doc["tags"] = self.tags.resolve(wanted)
        self.dataset.store(doc)
        self._hub.customer_changed(doc["id"], before)
        return self._json(doc)

    # -- events, organization, applications -----------------------------------------

    def event(self, raw: bytes) -> Reply:
        """``POST /events``: ``{customer, name, data}``."""
        body = decode_json(raw)
        if not isinstance(body, dict):
            return self._invalid([("body", "This value should be of type object.")])
        customer, name, data = body.get("customer"), body.get("name"), body.get("data")
        problems = []
        if not isinstance(customer, int) or isinstance(customer, bool):
            problems.append(("customer", "This value should be of type numeric."))
        if not isinstance(name, str) or not name:
            problems.append(("name", "This value should not be blank."))
        if data is not None and not isinstance(data, dict):
            problems.append(("data", "This value should be of type object."))
        if problems:
            return self._invalid(problems)
        if self.dataset.find(int(str(customer))) is None:
            return self._missing()
        event = {
            "id": len(self.events) + 1,
            "customer": customer,
            "name": name,
            "data": data or {},
            "createdAt": int(self._clock()),
        }
        self.events.append(event)
        return self._json(event)

    @staticmethod
    def organization() -> Reply:
        """``GET /organization``: the account itself."""
        org = {"id": 4242, "domain": "emulated", "teamOnline": True, "chatEnabled": True}
        return Reply(OK, msgspec.json.encode({"data": org}))

    @staticmethod
    def applications() -> Reply:
        """``GET /applications``: the widget the chats are opened in, and the messenger."""
        apps = [
            {"id": APPLICATION_IDS[0], "name": "widget", "displayName": "Website widget"},
            {"id": APPLICATION_IDS[1], "name": "telegram", "displayName": "Telegram"},
        ]
        data = [{**app, "type": app["name"], "active": True} for app in apps]
        return Reply(OK, msgspec.json.encode({"data": data}))
