"""The emulated API's wire format: query validation, error bodies, page bodies.

Pure. Validation reports one ``validation_error`` entry per bad parameter, in the order
limit, offset, sort, order, as the vendor's 400 example does.
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


def parse_list_query(query: Mapping[str, str]) -> ListQuery | list[str]:
    """Return the parsed query, or one error message per invalid parameter."""
    problems: list[str] = []
    limit = _integer(query.get("limit"), DEFAULT_LIMIT)
    if limit is None or not 1 <= limit <= MAX_LIMIT:
        problems.append("limit value is invalid")
    offset = _integer(query.get("offset"), 0)
    if offset is None:
        problems.append("offset value is invalid")
    sort = query.get("sort")
    if sort is not None and sort not in SORT_FIELDS:
        problems.append("sort value is invalid")
    order = query.get("order", "asc")
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


def status_body(status: int) -> bytes:
    """Return the vendor-style error body for an error ``status``."""
    return errors_body([_STATUS_ERRORS[status]])


def validation_body(problems: list[str]) -> bytes:
    """Return the 400 body with one ``validation_error`` entry per problem."""
    return errors_body([("validation_error", problem) for problem in problems])


def page_body(total: int, customers: list[bytes]) -> bytes:
    """Splice pre-encoded customers into ``{"total": N, "data": [...]}``."""
    return b'{"total":%d,"data":[%b]}' % (total, b",".join(customers))


def truncated(body: bytes) -> bytes:
    """Cut a JSON body to two thirds: every proper prefix of a JSON object is invalid."""
    return body[: max(1, len(body) * 2 // 3)] if len(body) > 1 else b"{"
