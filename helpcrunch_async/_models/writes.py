"""The wire types that only writes meet: events, batch results, the organization, applications.

Attributes are snake_case over the API's camelCase JSON; unknown fields are
skipped. The shapes the docs leave unstated are read as the emulator's module
docstrings (``testing/_writes.py``) state them: an event ``{id, customer, name,
data, createdAt}``; a batch answer ``{"data": [...]}`` with one entry per item, in
order, the customer object or ``{"id", "errors"}``; the organization wrapped in
``data`` as one object; applications as a ``data`` list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import msgspec

from helpcrunch_async._models.common import CLEAN_TIMESTAMP, Int64, seconds
from helpcrunch_async._models.customers import Customer, Scalar
from helpcrunch_async._models.errors import ErrorEntry
from helpcrunch_async._models.messages import Message

__all__ = [
    "Application",
    "Event",
    "Organization",
    "UpdateResult",
    "batch_results",
    "decode_applications",
    "decode_batch",
    "decode_event",
    "decode_message",
    "decode_nothing",
    "decode_organization",
    "record_body",
]


class Event(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    """A customer event, as ``POST /events`` answers it; ``created_at`` in unix seconds."""

    id: Int64 | None = None
    customer: Int64 | None = None
    name: str = ""
    data: dict[str, Scalar] = msgspec.field(default_factory=dict)
    if TYPE_CHECKING:
        created_at: int | None = None
    else:
        created_at: int | float | str | None = None

    def __post_init__(self) -> None:
        """Normalise ``createdAt`` (see `common.seconds`)."""
        created: float | str | None = self.created_at
        if type(created) not in CLEAN_TIMESTAMP:
            self.created_at = seconds(created, "createdAt")


class Organization(msgspec.Struct, rename="camel", kw_only=True):
    """The account: ``GET /organization``'s one object."""

    id: Int64
    domain: str | None = None
    team_online: bool = False
    chat_enabled: bool = False


class Application(msgspec.Struct, rename="camel", kw_only=True):
    """One application (a widget or a messenger), whose id ``chats.create`` needs."""

    id: Int64
    name: str | None = None
    display_name: str | None = None
    type: str | None = None
    active: bool = True


class UpdateResult(msgspec.Struct, kw_only=True):
    """What ``customers.update_many`` did with one item, in input order.

    ``status`` is ``updated`` (``customer`` holds the record the server answered),
    ``not_found`` (no customer has that id; nothing was sent for it) or
    ``refused`` (``errors`` holds the server's reasons).
    """

    id: int
    status: Literal["updated", "not_found", "refused"]
    customer: Customer | None = None
    errors: tuple[ErrorEntry, ...] = ()


class _Wrapped(msgspec.Struct):
    data: Organization


class _Applications(msgspec.Struct):
    data: list[Application]


class _BatchEntry(msgspec.Struct):
    id: Int64 | None = None
    errors: list[ErrorEntry] | None = None


class _Batch(msgspec.Struct):
    data: list[msgspec.Raw]


# The codes of a batch entry whose customer does not exist (old and new docs).
_NOT_FOUND_CODES = frozenset({"entity_not_found", "not_found", "customer_not_found"})
_EVENT = msgspec.json.Decoder(Event)
_ORGANIZATION = msgspec.json.Decoder(_Wrapped)
_APPLICATIONS = msgspec.json.Decoder(_Applications)
_BATCH = msgspec.json.Decoder(_Batch)
_ENTRY = msgspec.json.Decoder(_BatchEntry)
_CUSTOMER = msgspec.json.Decoder(Customer)
_MESSAGE = msgspec.json.Decoder(Message)


def decode_message(body: bytes) -> Message:
    """Decode ``POST /messages``'s answer: one bare message object."""
    return _MESSAGE.decode(body)


def decode_event(body: bytes) -> Event:
    """Decode ``POST /events``'s answer; msgspec's errors for a malformed one."""
    return _EVENT.decode(body)


def decode_organization(body: bytes) -> Organization:
    """Decode ``GET /organization``: ``{"data": {...}}``."""
    return _ORGANIZATION.decode(body).data


def decode_applications(body: bytes) -> list[Application]:
    """Decode ``GET /applications``: ``{"data": [...]}``."""
    return _APPLICATIONS.decode(body).data


def decode_nothing(body: bytes) -> None:
    """Ignore the body of an answer that says nothing (``DELETE``)."""
    del body


def decode_batch(body: bytes) -> list[Customer | list[ErrorEntry]]:
    """Decode ``PUT /customers/batch``: per item, the customer or its errors."""
    out: list[Customer | list[ErrorEntry]] = []
    for raw in _BATCH.decode(body).data:
        entry = _ENTRY.decode(raw)
        out.append(entry.errors if entry.errors is not None else _CUSTOMER.decode(raw))
    return out


def batch_results(
    ids: list[int], answered: list[Customer | list[ErrorEntry]]
) -> list[UpdateResult]:
    """Return one `UpdateResult` per sent id from a batch answer (404 entries: not found).

    An item the answer leaves out (a shorter list) is refused with a reason saying so.
    """
    results: list[UpdateResult] = []
    missing = [ErrorEntry("no_answer", "the batch answer has no entry for this item")]
    padded = [*answered, *[missing] * (len(ids) - len(answered))]
    for ident, entry in zip(ids, padded, strict=False):
        if isinstance(entry, Customer):
            results.append(UpdateResult(id=ident, status="updated", customer=entry))
        elif any(e.code in _NOT_FOUND_CODES for e in entry):
            results.append(UpdateResult(id=ident, status="not_found", errors=tuple(entry)))
        else:
            results.append(UpdateResult(id=ident, status="refused", errors=tuple(entry)))
    return results


def record_body(customer: Customer) -> dict[str, Any]:
    """Return every writable field of ``customer`` as a batch item (``id`` included).

    Sent whole, an item leaves the same account whether the server merges batch
    items into the customer or replaces the customer with them.
    """
    return {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "userId": customer.user_id,
        "company": customer.company,
        "phone": customer.phone,
        "notes": customer.notes,
        "tags": [{"name": tag.name} for tag in customer.tags],
        "customData": [{"property": i.property, "value": i.value} for i in customer.custom_data],
    }
