"""The emulated API's wire format: query validation, error bodies, page bodies.

Pure. Validation reports one entry per bad parameter, in the order limit, offset, sort,
order, as the vendor's 400 example does.

Two generations of error bodies (``style``): ``old`` has one specific entry per error
(``invalid_token``, ``entity_not_found`` / ``chat_not_found``, ``too_many_requests``,
``validation_error`` with "limit value is invalid"); ``new`` starts every 400, 401, 404
and 429 with ``invalid_request`` / "Invalid request" and follows it with the specific
entries (``unauthorized``, ``not_found``, ``too_many_requests``, and for validation one
entry per bad key whose ``code`` is the key's path, e.g. ``filter[0].value``).

Where the list's total goes (``placement``): ``total`` (top level), ``meta``
(``{"meta": {"total": N}}``), ``both``, or ``none``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec

from helpcrunch_async.testing._dataset import SORT_FIELDS

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_LIMIT = 100
MAX_LIMIT = 100
ORDERS = ("asc", "desc")
ERROR_STYLES = ("old", "new")
PLACEMENTS = ("total", "meta", "both", "none")
_INVALID_REQUEST = ("invalid_request", "Invalid request")


@dataclass(frozen=True, slots=True)
class WireVariants:
    """The wire's shape where the reference documents several.

    ``error_style`` (``old``/``new``, see above); ``messages_key`` (``data``, or
    ``messages`` as in one old snapshot); ``list_total`` for agents and departments
    (``meta`` new, ``none`` old); ``customers_search_total`` and ``chats_search_total``
    (one of ``PLACEMENTS``; unknown in the reference, ``total`` by default as the
    public clients read it); ``chats_updated_at`` adds ``updatedAt`` to chats (the
    chat model has none; search filters on it either way); ``messages_order`` lists a
    chat's messages ``newest`` first (as documented) or ``oldest`` first (a server the
    docs do not rule out).
    """

    error_style: str = "old"
    messages_key: str = "data"
    list_total: str = "meta"
    customers_search_total: str = "total"
    chats_search_total: str = "total"
    chats_updated_at: bool = False
    messages_order: str = "newest"

    def __post_init__(self) -> None:
        """Refuse a value outside its variant's choices (ValueError naming the field)."""
        if self.error_style not in ERROR_STYLES:
            raise ValueError(f"error_style is one of {ERROR_STYLES}")
        if self.messages_key not in ("data", "messages"):
            raise ValueError("messages_key is 'data' or 'messages'")
        if self.list_total not in ("meta", "none"):
            raise ValueError("list_total is 'meta' or 'none'")
        if self.messages_order not in ("newest", "oldest"):
            raise ValueError("messages_order is 'newest' or 'oldest'")
        for name in ("customers_search_total", "chats_search_total"):
            if getattr(self, name) not in PLACEMENTS:
                raise ValueError(f"{name} is one of {PLACEMENTS}")


_NEW_STATUS_ERRORS: dict[int, tuple[str, str]] = {
    401: ("unauthorized", "Unauthorized"),
    404: ("not_found", "Not found"),
    429: ("too_many_requests", "You have exceeded your requests limit"),
}

_STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("validation_error", "request is invalid"),
    401: ("invalid_token", "Invalid token"),
    404: ("entity_not_found", "Entity not found"),
    429: ("too_many_requests", "You have exceeded your requests limit"),
    500: ("internal_error", "Internal server error"),
    502: ("bad_gateway", "Bad gateway"),
    503: ("service_unavailable", "Service temporarily unavailable"),
    504: ("gateway_timeout", "Gateway timeout"),
}

# Two ways a 200 body can be broken: not JSON at all, and JSON of the wrong shape.
MALFORMED_BODIES = (b'{"total": 3, "data": [{"id": 1,, }', b'{"total": "x", "data": null}')


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A valid ``GET /v1/customers`` query with its defaults filled in."""

    offset: int = 0
    limit: int = DEFAULT_LIMIT
    sort: str | None = None
    descending: bool = False


def parse_list_query(
    query: Mapping[str, str], sorts: tuple[str, ...] | None = SORT_FIELDS
) -> ListQuery | list[str]:
    """Return the parsed query, or one error message per invalid parameter.

    ``sorts`` are the sort values the endpoint takes; None: it takes no ``sort`` and
    ``order`` (they are ignored, as undocumented parameters are).
    """
    problems: list[str] = []
    limit = _integer(query.get("limit"), DEFAULT_LIMIT)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        problems.append("limit value is invalid")
    offset = _integer(query.get("offset"), 0)
    if offset is None:
        problems.append("offset value is invalid")
    sort = query.get("sort") if sorts is not None else None
    if sort is not None and sorts is not None and sort not in sorts:
        problems.append("sort value is invalid")
    order = query.get("order", "asc") if sorts is not None else "asc"
    if order not in ORDERS:
        problems.append("order value is invalid")
    if problems or limit is None or offset is None:
        return problems
    return ListQuery(offset=offset, limit=limit, sort=sort, descending=order == "desc")


def _integer(text: str | None, default: int) -> int | None:
    if text is None:
        return default
    # ASCII digits only: int() would also take " 7", "+7", "1_0" and non-ASCII digits.
    if not text.isascii() or not text.isdigit():
        return None
    return int(text)


def errors_body(entries: list[tuple[str, str]]) -> bytes:
    """Encode ``{"errors": [{"code", "message"}, ...]}``."""
    return msgspec.json.encode(
        {"errors": [{"code": code, "message": message} for code, message in entries]}
    )


def status_body(status: int, style: str = "old", *, chat: bool = False) -> bytes:
    """Return the vendor-style error body for an error ``status``.

    ``chat`` names a missing chat in a 404 ("Chat not found").
    """
    if status == 404 and chat:  # noqa: PLR2004 -- the HTTP status
        if style == "new":
            return errors_body([_INVALID_REQUEST, ("not_found", "Chat not found")])
        return errors_body([("chat_not_found", "Chat not found")])
    if style == "new" and status in _NEW_STATUS_ERRORS:
        return errors_body([_INVALID_REQUEST, _NEW_STATUS_ERRORS[status]])
    return errors_body([_STATUS_ERRORS[status]])


def validation_body(problems: list[str], style: str = "old") -> bytes:
    """Return the 400 body for a list query: one entry per problem."""
    if style == "new":
        return errors_body(
            [_INVALID_REQUEST]
            + [(problem.split()[0], "This value is not valid.") for problem in problems]
        )
    return errors_body([("validation_error", problem) for problem in problems])


def field_errors_body(problems: list[tuple[str, str]], style: str = "old") -> bytes:
    """Return the 400 body for a search body: one entry per ``(path, message)``."""
    if style == "new":
        return errors_body([_INVALID_REQUEST, *problems])
    return errors_body([("validation_error", f"{path} value is invalid") for path, _ in problems])


def echo_header(body: bytes, header: str | None) -> bytes:
    """Append ``header`` (the request's Authorization) to every message of an error body."""
    try:
        decoded = msgspec.json.decode(body)
        entries = decoded["errors"]
        for entry in entries:
            entry["message"] = f"{entry['message']} (Authorization: {header})"
    except (msgspec.DecodeError, KeyError, TypeError):
        return body
    return msgspec.json.encode(decoded)


def list_body(items: list[bytes], total: int, placement: str, key: str = "data") -> bytes:
    """Splice encoded items into ``{key: [...]}`` with the total where ``placement`` says."""
    data = b'"%b":[%b]' % (key.encode(), b",".join(items))
    if placement == "total":
        return b'{%b,"total":%d}' % (data, total)
    if placement == "meta":
        return b'{%b,"meta":{"total":%d}}' % (data, total)
    if placement == "both":
        return b'{%b,"total":%d,"meta":{"total":%d}}' % (data, total, total)
    return b"{%b}" % data


def page_body(total: int, customers: list[bytes]) -> bytes:
    """Splice pre-encoded customers into ``{"total": N, "data": [...]}``."""
    return b'{"total":%d,"data":[%b]}' % (total, b",".join(customers))


def truncated(body: bytes) -> bytes:
    """Cut a JSON body to two thirds: every proper prefix of a JSON object is invalid."""
    return body[: max(1, len(body) * 2 // 3)] if len(body) > 1 else b"{"
