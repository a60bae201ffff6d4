"""Checks of what callers pass, made before any request leaves.

This module is pure: it imports neither aiohttp nor asyncio. Each check raises
`InvalidParameterError` (a ``ValueError``) that names the parameter, the value
and what is allowed.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Literal, TypeGuard

from yarl import URL

from helpcrunch_async._errors import InvalidParameterError

__all__ = [
    "ORDERS",
    "SORTS",
    "Order",
    "Sort",
    "check_base_url",
    "check_limit",
    "check_offset",
    "check_order",
    "check_positive_int",
    "check_seconds",
    "check_sort",
]

Sort = Literal["customers.firstSeen", "customers.lastSeen"]
Order = Literal["asc", "desc"]
SORTS: tuple[str, ...] = ("customers.firstSeen", "customers.lastSeen")
ORDERS: tuple[str, ...] = ("asc", "desc")
MAX_LIMIT = 100


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_limit(limit: object) -> int:
    """Return ``limit`` if it is an int in 1..100."""
    if not _is_int(limit) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameterError(f"limit must be an integer from 1 to 100, got {limit!r}")
    return limit


def check_offset(offset: object) -> int:
    """Return ``offset`` if it is an int >= 0."""
    if not _is_int(offset) or offset < 0:
        raise InvalidParameterError(f"offset must be an integer >= 0, got {offset!r}")
    return offset


def check_sort(sort: object, *, optional: bool = False) -> str | None:
    """Return ``sort`` if it is a documented sort field (or None when optional)."""
    if sort is None and optional:
        return None
    if not isinstance(sort, str) or sort not in SORTS:
        raise InvalidParameterError(f"sort must be one of {', '.join(SORTS)}; got {sort!r}")
    return sort


def check_order(order: object) -> str:
    """Return ``order`` if it is ``asc`` or ``desc``."""
    if not isinstance(order, str) or order not in ORDERS:
        raise InvalidParameterError(f"order must be 'asc' or 'desc', got {order!r}")
    return order


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is an int >= 1."""
    if not _is_int(value) or value < 1:
        raise InvalidParameterError(f"{name} must be an integer >= 1, got {value!r}")
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


def check_base_url(base_url: object) -> URL:
    """Return ``base_url`` as a URL if it is https, or http to a loopback host.

    The API key travels in a header; plain http would show it to the network.
    """
    if not isinstance(base_url, str | URL):
        raise InvalidParameterError(f"base_url must be a URL string, got {base_url!r}")
    url = URL(str(base_url).rstrip("/"))
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidParameterError(f"base_url must be an http(s) URL with a host, got {url}")
    if url.user or url.password:
        raise InvalidParameterError("base_url must not carry credentials; pass api_key instead")
    if url.scheme == "http" and not _is_loopback(url.host):
        raise InvalidParameterError(
            f"base_url must use https (plain http is allowed only to a loopback host), got {url}"
        )
    return url


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
