"""The wire types: msgspec Structs for customers and their pages.

Attributes are snake_case over the API's camelCase JSON (``rename="camel"``).
Fields the API may leave out default to ``None``, ``False`` or an empty list, and
fields this module does not know (``createdFrom``, ``integrationId`` and whatever
comes next) are skipped, so a new field on the server never breaks a client.

The API's documentation contradicts itself on two fields, and every variant is
accepted and normalised, so callers always see one shape:

* ``customData`` arrives as a list of ``{"property", "value"}`` objects, or as an
  object ``{property: value}``. Both become ``list[CustomDataItem]``, in the
  order the server sent them.
* ``firstSeen`` and ``lastSeen`` arrive as an integer, a numeric string
  (``"1588603952"``, ``"1588603952.0"``), a JSON number with a fraction, or
  null. All become ``int | None``: whole unix seconds, any fraction floored
  (`common.seconds`, shared by every model). A blank string means no value and
  becomes ``None``; any other non-numeric string is a `msgspec.ValidationError`
  whose message names the field and whose JSON path names the customer
  (``... - at `$.data[3]```).

How, cheaply: msgspec decodes the *wire* union (``list[CustomDataItem] |
dict[str, Scalar]``, ``int | float | str | None``) at C speed, and
``Customer.__post_init__`` rewrites a field only when it holds a variant. The
common shape (a list and integers) leaves the hook after one test; the hook
call costs about 5-8% of a page's decode time (``benchmarks/decode.py``
measures it against the same Structs without a hook). Static
type checkers see the normalised types, because each such field is declared
twice: the clean type under ``if TYPE_CHECKING:`` and the wire union in the
``else:`` branch, which is the one msgspec reads at run time. A lax decoder
(``strict=False``) was rejected: it would also turn ``"true"`` into a bool and
``"null"`` into ``None`` in every other field, and cannot map an object to a list.

Encoding (`encode_customer`, or ``msgspec.json.encode``) writes the API's
camelCase JSON with ``customData`` as a list and the timestamps as integers.

Decoding errors are left as msgspec's own `msgspec.DecodeError` (not JSON) and
`msgspec.ValidationError` (JSON, wrong shape; the message carries the JSON
path). They are not wrapped here because only the caller knows which request
the body answered: `_caller` turns them into the public `DecodeError` with the
method, path and a body excerpt, and retries, since the API sends valid JSON and
a malformed body means it was damaged on the way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

import msgspec

from helpcrunch_async._models.common import (
    CLEAN_TIMESTAMP,
    Count,
    Int64,
    Window,
    WirePage,
    counted_parts,
    page_parts,
    seconds,
)

__all__ = [
    "CustomDataItem",
    "Customer",
    "CustomersPage",
    "Device",
    "Location",
    "Scalar",
    "Tag",
    "decode_customer",
    "decode_page",
    "decode_search_page",
    "decode_search_window",
    "encode_customer",
]

Scalar: TypeAlias = str | int | float | bool | None
"""The type of one ``customData`` value."""


# The nested Structs hold only scalars, so, like `Customer`, they cannot be part
# of a reference cycle and are left untracked by the cycle collector
# (``gc=False``): a scan allocates several per customer, and tracked ones make
# the collector run often (measured on a noisy 2-core host: 11-13 µs of client
# CPU a customer untracked, 13-18 µs tracked; decode alone 10% faster).
class Location(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    """Where the customer was last seen; every part may be unknown."""

    region_code: str | None = None
    country_code: str | None = None
    city: str | None = None


class Device(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    """The device the customer was last seen on."""

    id: int | None = None
    ip: str | None = None
    timezone: str | None = None
    platform: str | None = None
    user_agent: str | None = None


class Tag(msgspec.Struct, rename="camel", gc=False):
    """A tag on a customer, with its display color (``"#0079bf"``)."""

    name: str = ""
    color: str | None = None


class CustomDataItem(msgspec.Struct, rename="camel", gc=False):
    """One custom attribute: a property name and its scalar value."""

    property: str
    value: Scalar = None


class Customer(msgspec.Struct, rename="camel", kw_only=True, gc=False):
    """One customer, as ``GET /customers`` and ``GET /customers/{id}`` return it.

    ``first_seen`` and ``last_seen`` are unix seconds. ``custom_data`` keeps the
    server's order; see the module docstring for the variants it is built from.

    Instances are not tracked by the cycle collector (``gc=False``): a customer
    holds only scalars, scalar-only Structs and lists of them, so it cannot be
    part of a reference cycle unless one is built on purpose by putting foreign
    objects into its lists, which would then leak. Untracked, a page decodes
    about a tenth faster and a large scan gives the collector less to walk.
    """

    id: Int64
    name: str | None = None
    email: str | None = None
    user_id: str | None = None
    company: str | None = None
    phone: str | None = None
    if TYPE_CHECKING:
        first_seen: int | None = None
        last_seen: int | None = None
    else:
        # What the wire may carry; `__post_init__` narrows it to `int | None`.
        first_seen: int | float | str | None = None
        last_seen: int | float | str | None = None
    location: Location | None = None
    device: Device | None = None
    unsubscribed: bool = False
    blocked: bool = False
    source: str | None = None
    referer: str | None = None
    locale: str | None = None
    notes: str | None = None
    last_page: str | None = None
    tags: list[Tag] = msgspec.field(default_factory=list)
    if TYPE_CHECKING:
        custom_data: list[CustomDataItem] = msgspec.field(default_factory=list)
    else:
        # What the wire may carry; `__post_init__` narrows it to the list.
        custom_data: list[CustomDataItem] | dict[str, Scalar] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        """Normalise the variants of ``customData``, ``firstSeen`` and ``lastSeen``."""
        # Local names typed as the wire union, so the checks below are not
        # "unreachable" against the declared clean types.
        data: list[CustomDataItem] | dict[str, Scalar] = self.custom_data
        first: float | str | None = self.first_seen
        last: float | str | None = self.last_seen
        # The common shape leaves after one test: this runs for every customer.
        if type(data) is list and type(first) in CLEAN_TIMESTAMP and type(last) in CLEAN_TIMESTAMP:
            return
        if type(data) is dict:
            self.custom_data = [CustomDataItem(key, value) for key, value in data.items()]
        if first is not None and type(first) is not int:
            self.first_seen = seconds(first, "firstSeen")
        if last is not None and type(last) is not int:
            self.last_seen = seconds(last, "lastSeen")


class CustomersPage(msgspec.Struct, rename="camel"):
    """One page of ``GET /customers``: the account's ``total`` and this page's customers.

    Both fields are required: a page without ``total`` cannot be planned around,
    so it is a malformed body, not an empty account.
    """

    total: Count
    data: list[Customer]


_PAGE_DECODER = msgspec.json.Decoder(CustomersPage)
_SEARCH_DECODER = msgspec.json.Decoder(WirePage[Customer])
_CUSTOMER_DECODER = msgspec.json.Decoder(Customer)
_ENCODER = msgspec.json.Encoder()


def decode_page(body: bytes) -> CustomersPage:
    """Decode a ``GET /customers`` body.

    Raises `msgspec.DecodeError` for a body that is not JSON and
    `msgspec.ValidationError` (with the JSON path) for one of the wrong shape.
    """
    return _PAGE_DECODER.decode(body)


def decode_search_page(body: bytes) -> CustomersPage:
    """Decode a ``POST /customers/search`` body, whose count may be ``total`` or ``meta.total``.

    The search response is not documented; clients read a top-level ``total``,
    and the sibling endpoints use ``meta.total``, so both are accepted
    (`common.counted_parts`). Raises like `decode_page`.
    """
    total, data = counted_parts(_SEARCH_DECODER.decode(body))
    return CustomersPage(total=total, data=data)


def decode_search_window(body: bytes) -> Window[Customer]:
    """Decode a ``POST /customers/search`` body for a scan: a missing count is ``None``."""
    total, data = page_parts(_SEARCH_DECODER.decode(body))
    return Window(total=total, data=data)


def decode_customer(body: bytes) -> Customer:
    """Decode a ``GET /customers/{id}`` body: one bare customer object.

    Raises like `decode_page`.
    """
    return _CUSTOMER_DECODER.decode(body)


def encode_customer(customer: Customer) -> bytes:
    """Encode a customer as the API's camelCase JSON (``customData`` as a list)."""
    return _ENCODER.encode(customer)
