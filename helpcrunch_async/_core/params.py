"""Checks of what callers pass, made before any request leaves: the one set of them.

This module is pure: it imports neither aiohttp nor asyncio. Each check raises
`InvalidParameterError` (a ``ValueError``) that names the parameter, the value
and what is allowed. Every public constructor (`HelpCrunch`, `LocalBudget`,
`RedisBudget`, `RetryPolicy`, `Cap` through the budgets) checks its arguments
here, so one mistake reads the same wherever it is made. The API key is the
exception that proves the rule: `api_key_problem` returns the problem instead
of raising, so that the key is out of every frame before the error is raised.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Literal, TypeGuard, get_args

from yarl import URL

from helpcrunch_async._errors import InvalidParameterError
from helpcrunch_async._models.common import MAX_INT

__all__ = [
    "BASE_URL_VARIABLE",
    "CHAT_SORTS",
    "DEFAULT_BASE_URL",
    "DEFAULT_BUDGET_KEY",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_FALLBACK_WORKERS",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_RATE_LIMIT_WAIT",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RATE_PERIOD",
    "KEYS_PER_SEARCH",
    "MAX_INT",
    "ORDERS",
    "SORTS",
    "ChatSort",
    "Order",
    "Sort",
    "api_key_problem",
    "base_url_from",
    "check_base_url",
    "check_budget_key",
    "check_fallback_workers",
    "check_int64",
    "check_limit",
    "check_non_negative_int",
    "check_offset",
    "check_optional_seconds",
    "check_order",
    "check_positive_int",
    "check_rate",
    "check_seconds",
    "check_sort",
    "check_text",
    "is_loopback_host",
]

# The one home of the default: the client and the command both use it.
DEFAULT_BASE_URL = "https://api.helpcrunch.com/v1"
BASE_URL_VARIABLE = "HELPCRUNCH_BASE_URL"
# The documented cap, 120 requests a minute, which every entry point assumes unless told.
DEFAULT_RATE_LIMIT = 120
DEFAULT_RATE_PERIOD = 60.0
# Requests of one scan in flight, unless told.
DEFAULT_CONCURRENCY = 8
# A 429 asking for a longer pause (seconds) raises instead of holding every request.
DEFAULT_MAX_RATE_LIMIT_WAIT = 120.0
# The most bytes one answer's body may hold once decompressed. A documented page
# (100 customers with their custom data) is well under 1 MiB; a gzip bomb is not.
DEFAULT_MAX_BODY_SIZE = 8 * 1024 * 1024
# How many keys one search holds, joined with OR: a customer lookup's default, and
# the chats of that many customers a search when the sync reads them.
KEYS_PER_SEARCH = 20

Sort = Literal["customers.firstSeen", "customers.lastSeen"]
"""The sort fields of ``GET /customers`` and customer search."""
Order = Literal["asc", "desc"]
SORTS: tuple[str, ...] = get_args(Sort)
ChatSort = Literal[
    "chats.createdAt", "chats.lastCustomerMessageAt", "chats.lastMessageAt", "chats.closedAt"
]
"""The sort fields of ``GET /chats`` and chat search (chats.md lists these four)."""
CHAT_SORTS: tuple[str, ...] = get_args(ChatSort)
ORDERS: tuple[str, ...] = get_args(Order)
MAX_LIMIT = 100


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_limit(limit: object) -> int:
    """Return ``limit`` if it is an int in 1..100."""
    if not _is_int(limit) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameterError(f"limit must be an integer from 1 to 100, got {limit!r}")
    return limit


def check_offset(offset: object) -> int:
    """Return ``offset`` if it is an int from 0 to `MAX_INT`."""
    return check_non_negative_int("offset", offset)


def check_sort(
    sort: object, *, optional: bool = False, sorts: tuple[str, ...] = SORTS
) -> str | None:
    """Return ``sort`` if it is one of ``sorts`` (customers' by default), or None when optional."""
    if sort is None and optional:
        return None
    if not isinstance(sort, str) or sort not in sorts:
        raise InvalidParameterError(f"sort must be one of {', '.join(sorts)}; got {sort!r}")
    return sort


def check_order(order: object) -> str:
    """Return ``order`` if it is ``asc`` or ``desc``."""
    if not isinstance(order, str) or order not in ORDERS:
        raise InvalidParameterError(f"order must be 'asc' or 'desc', got {order!r}")
    return order


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int from 1 to `MAX_INT`."""
    if not _is_int(value) or value < 1:
        raise InvalidParameterError(f"{name} must be an integer >= 1, got {value!r}")
    return check_int64(name, value)


def check_non_negative_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int from 0 to `MAX_INT`."""
    if not _is_int(value) or value < 0:
        raise InvalidParameterError(f"{name} must be an integer >= 0, got {value!r}")
    return check_int64(name, value)


def check_int64(name: str, value: int) -> int:
    """Return ``value`` if it fits the API's 64-bit integers (-2**63 .. `MAX_INT`).

    A larger id or offset cannot name anything on the server; sent, it comes
    back as a 404 or an empty page, as if the account merely had no such item.
    """
    if not -MAX_INT - 1 <= value <= MAX_INT:
        raise InvalidParameterError(
            f"{name} must be at most 2**63 - 1 in size (a 64-bit integer), got {value!r:.30}"
        )
    return value


def check_seconds(name: str, value: object, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is a finite positive number of seconds."""
    number = (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
    )
    if not (math.isfinite(number) and (number > 0 or (allow_zero and number == 0))):
        kind = ">= 0" if allow_zero else "> 0"
        raise InvalidParameterError(f"{name} must be a number of seconds {kind}, got {value!r}")
    return number


def check_optional_seconds(name: str, value: object) -> float | None:
    """Return ``value`` as a float of seconds >= 0, or None (no bound) when it is None."""
    return None if value is None else check_seconds(name, value, allow_zero=True)


def check_rate(limit: object, period: object, margin: object) -> tuple[int, float, float | None]:
    """Return a cap's ``limit`` (int >= 1), ``period`` (s > 0) and ``margin`` (s >= 0 or None)."""
    return (
        check_positive_int("rate limit", limit),
        check_seconds("rate period", period),
        check_optional_seconds("rate margin", margin),
    )


# How many processes a shared budget assumes share it, unless told.
DEFAULT_FALLBACK_WORKERS = 4
# The shared budget's name in Redis, unless told: every process using one key
# then shares one cap by default (RedisBudget, the dlt source, the commands).
DEFAULT_BUDGET_KEY = "helpcrunch"


def check_fallback_workers(workers: object, limit: int) -> int:
    """Return ``workers`` if it is an int from 1 to ``limit``: each needs a request per period."""
    count = check_positive_int("fallback_workers", workers)
    if count > limit:
        raise InvalidParameterError(
            f"fallback_workers ({workers}) must not exceed the rate limit ({limit}): "
            "each process needs at least one request per period in fallback"
        )
    return count


def check_budget_key(key: object) -> str:
    """Return a shared budget's ``key`` if it is a non-empty name without braces."""
    if not isinstance(key, str) or not key or "{" in key or "}" in key:
        raise InvalidParameterError(
            f"the budget key must be a non-empty name without braces, got {key!r}"
        )
    return check_text("the budget key", key)


def check_text(what: str, text: str) -> str:
    """Return ``text`` if UTF-8 can carry it (no lone surrogate); else say so, naming ``what``.

    A lone surrogate (what ``errors="surrogateescape"`` leaves of undecodable
    bytes) would fail deep in a request's encoding, outside the error tree.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidParameterError(
            f"{what} is not valid text: {text[exc.start]!r} at position {exc.start} is a lone "
            "surrogate, which no UTF-8 request can carry (was it decoded with errors=?)"
        ) from None
    return text


def api_key_problem(key: object) -> str | None:
    """Return what is wrong with an API key, or None; the text never quotes the key.

    The caller raises: a check that raised would keep the key in its frame's
    locals, which an error reporter records.
    """
    if not isinstance(key, str) or not key.strip():
        return "no API key: pass api_key= or set the HELPCRUNCH_API_KEY environment variable"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in key.strip()):  # noqa: PLR2004 -- C0 and DEL
        return (
            "the API key contains a control character (a NUL byte, a line break or another); "
            "check how it was read or pasted"
        )
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in key):  # noqa: PLR2004 -- the surrogate range
        return (
            "the API key contains a lone surrogate, which no request header can carry; "
            "check how it was read (undecodable bytes?)"
        )
    return None


def check_base_url(base_url: object) -> URL:
    """Return ``base_url`` as a URL if it is https, or http to a loopback host.

    The API key travels in a header; plain http would show it to the network.
    """
    if not isinstance(base_url, str | URL):
        raise InvalidParameterError(f"base_url must be a URL string, got {base_url!r}")
    text = check_text("base_url", str(base_url))
    try:
        url = URL(text.rstrip("/"))
    except (ValueError, UnicodeError) as exc:  # yarl's refusals: a bad port, an invalid host
        raise InvalidParameterError(f"base_url is not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidParameterError(f"base_url must be an http(s) URL with a host, got {url}")
    if url.user or url.password:
        raise InvalidParameterError("base_url must not carry credentials; pass api_key instead")
    if url.scheme == "http" and not is_loopback_host(url.host):
        raise InvalidParameterError(
            f"base_url must use https (plain http is allowed only to a loopback host), got {url}"
        )
    return url


def base_url_from(given: object, environment: str | None) -> URL:
    """Return the base URL: ``given``, else the environment's value, else the real API's.

    ``environment`` is the value of ``HELPCRUNCH_BASE_URL`` (``None`` when unset);
    empty or blank counts as unset. Either is checked like `check_base_url`, and
    a bad value from the environment is named as such.
    """
    if given is not None:
        return check_base_url(given)
    if environment is None or not environment.strip():
        return check_base_url(DEFAULT_BASE_URL)
    try:
        return check_base_url(environment.strip())
    except InvalidParameterError as error:
        raise InvalidParameterError(f"{BASE_URL_VARIABLE}: {error}") from None


def is_loopback_host(host: str) -> bool:
    """Return whether ``host`` (a name or an address, IPv6 in brackets or not) is this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
