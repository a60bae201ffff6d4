"""What a webhook receiver answers to a delivery: every rule of that decision.

This module is pure: it imports neither aiohttp nor asyncio, never reads a clock
and does no I/O; the time is an argument. The receivers (`webhooks.asgi_app`,
`webhooks.aiohttp_handler`) apply the rules in this order:

1. Size: a body over ``max_body`` bytes is 413, decided from its
   ``Content-Length`` before any of it is read, and from the count of bytes
   read for a body sent without one (chunked): reading stops at the limit.
   A ``Content-Length`` that is not one decimal number is 400.
2. One signature: a request that carries the ``X-HelpCrunch-Signature`` header
   twice is refused (401), whatever the values; one that carries none too.
3. Authentic: a signature that no configured secret gives for the raw body is
   401 with an empty body (see `signature`), so that nothing about the
   expected digest leaks to whoever sent it.
4. Well formed: a signed body that is not JSON of the documented envelope
   is 400: sending it again will not help, but it is the sender's fault.
5. Fresh: a delivery whose signed ``lastAttemptAt`` lies more than
   ``tolerance`` seconds from now, either side (or that has none), is 401. Every
   delivery attempt carries its own ``lastAttemptAt``, so HelpCrunch's late
   retries pass, while a body captured and replayed after the dedup window
   does not. ``tolerance`` None turns the check off.
6. Once: a delivery of an event id already handled (or spooled) is
   acknowledged (200) without calling the handler. A copy that arrives while
   the id is in another request's hands is 503: acknowledged, it could end
   the deliveries before that request's handler returned, and if the handler
   then failed, nothing would deliver the event again.
7. Done means returned: 200 once the handler has returned; 500 when it
   raised, and the claim is released, so HelpCrunch's redelivery is handled.
8. Spooled means durable: with a spool, 200 once the event is committed to
   the inbox; the inbox's worker calls the handler later, retrying it with a
   capped exponential backoff, and deletes the event only after the handler
   returned.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "ACCEPTED",
    "BAD_REQUEST",
    "BUSY",
    "DEFAULT_MAX_BODY",
    "DEFAULT_TOLERANCE",
    "FAILED",
    "METHOD_NOT_ALLOWED",
    "TOO_LARGE",
    "UNAUTHORIZED",
    "content_length",
    "header_count_problem",
    "staleness_problem",
]

DEFAULT_MAX_BODY = 1024 * 1024
"""The largest body a receiver reads by default (1 MiB); real deliveries are a few KB."""

DEFAULT_TOLERANCE = 300.0
"""How far (in seconds) a delivery's ``lastAttemptAt`` may lie from now by default (rule 5)."""

ACCEPTED = 200
UNAUTHORIZED = 401
BAD_REQUEST = 400
METHOD_NOT_ALLOWED = 405
TOO_LARGE = 413
FAILED = 500
BUSY = 503


def content_length(values: Sequence[str]) -> int | str | None:
    """Return a request's declared body length (rule 1): None if undeclared, else an int.

    A string is returned instead when the header is malformed (several
    different values, or not a decimal number): the problem, for a 400.
    """
    distinct = {value.strip() for value in values}
    if not distinct:
        return None
    if len(distinct) > 1:
        return "the request declares several different Content-Length values"
    (text,) = distinct
    if not (text.isascii() and text.isdigit()):
        return "the request's Content-Length is not a decimal number"
    return int(text)


def header_count_problem(values: Sequence[str], header: str) -> str | None:
    """Return why ``values`` (every value of the signature header) cannot be judged (rule 2)."""
    if len(values) > 1:
        return f"the request carries the {header} header {len(values)} times"
    return None


def staleness_problem(
    last_attempt_at: int | None, now: float, tolerance: float | None
) -> str | None:
    """Return why a delivery is not fresh (rule 5), or None if it is.

    ``last_attempt_at`` is the signed envelope's, in unix seconds; ``now`` the
    receiver's clock.
    """
    if tolerance is None:
        return None
    if last_attempt_at is None:
        return "the delivery has no lastAttemptAt, so its age cannot be checked"
    age = now - last_attempt_at
    if not math.isfinite(age) or abs(age) > tolerance:
        return (
            f"the delivery's lastAttemptAt is {age:.0f} s from now, beyond the "
            f"tolerance of {tolerance:g} s (a replay, or a clock that is wrong)"
        )
    return None
