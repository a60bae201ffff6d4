"""Retry decisions: which failures to retry, how long to wait, when to stop.

This module is pure: it imports neither aiohttp nor asyncio, never reads a clock
and never sleeps or does I/O. The current time and the random draw are
arguments, so every rule is tested without an event loop; `_shell.caller` is the
shell that acts on the answers: every attempt's `Result` (an answer, a fault, a
timeout, a bad body, a 429) goes through `decide`, the one home of the rules.

The rules:

1. Retried: 429, 500, 502, 503 and 504, connection faults and timeouts,
   truncated bodies, and success bodies that are not valid JSON of the
   documented shape (the API sends valid JSON, so a malformed body was damaged
   on the way). Never retried: every other 4xx (400, 401, 403, 404, ...), which
   would fail the same way again, and every other status (a 3xx means a wrong
   base URL, since redirects are not followed; 501 and 505 are permanent).
2. ``Retry-After`` is read as delta-seconds or an HTTP date; nonsense is
   ignored and the backoff applies; values beyond `MAX_RETRY_AFTER` are clamped.
3. Backoff is exponential with full jitter, capped (see `backoff_delay`).
4. A call makes at most ``max_retries`` retries after its first attempt.
5. A 429 is retried without a backoff of its own: the rate budget holds every
   request until the pause it decided ends. A pause longer than
   ``max_rate_limit_wait`` fails the call at once instead, and so does an
   attempt that would start inside such a pause.
6. A body that inflates past ``max_body_size`` (a gzip bomb, or a server
   sending far more than any documented page) is never retried: it was
   refused, not damaged, and the next attempt would cost as much again.
"""

from __future__ import annotations

import email.utils
import enum
import math
import re
from dataclasses import dataclass
from datetime import UTC

from helpcrunch_async._core.params import check_non_negative_int, check_seconds
from helpcrunch_async._errors import InvalidParameterError

__all__ = [
    "MAX_RETRY_AFTER",
    "RETRYABLE_STATUSES",
    "Decision",
    "Failure",
    "Outcome",
    "Result",
    "RetryPolicy",
    "backoff_delay",
    "classify",
    "decide",
    "is_retryable",
    "parse_retry_after",
]

# The longest Retry-After honoured, in seconds. A server asking for more (a day,
# a year) is most likely confused; an hour is already longer than the documented
# one-minute rate window, and a caller who wants to give up sooner has timeouts.
MAX_RETRY_AFTER = 3600.0

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_TOO_MANY = 429

# delta-seconds: RFC 9110 says digits only; a fraction and padding are tolerated.
_DELTA = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")


class Outcome(enum.Enum):
    """What one attempt's result means for the call."""

    SUCCESS = "success"
    """A 2xx answer with a body of the documented shape."""
    RETRY = "retry"
    """A failure that another attempt may not repeat."""
    FAIL = "fail"
    """A failure that another attempt would repeat: raise it."""


def classify(status: int | None) -> Outcome:
    """Return what an answer's HTTP ``status`` means; ``None`` (no answer) is retried."""
    if status is None:
        return Outcome.RETRY
    if 200 <= status <= 299:  # noqa: PLR2004 -- the 2xx range
        return Outcome.SUCCESS
    return Outcome.RETRY if status in RETRYABLE_STATUSES else Outcome.FAIL


def is_retryable(status: int | None) -> bool:
    """Return whether another attempt may succeed where this one failed (see `classify`)."""
    return classify(status) is Outcome.RETRY


class Failure(enum.Enum):
    """An attempt that gave no usable answer, and why."""

    NOT_SENT = "not sent"
    """Provably never left: connection refused, DNS, TLS, or a connect timeout."""
    CONNECTION = "connection"
    """No complete answer after the request may have left: reset, dropped, cut short."""
    TIMEOUT = "timeout"
    """No complete answer within the attempt's timeout."""
    BAD_BODY = "bad body"
    """A 2xx answer whose body is not the documented shape."""
    PAUSED = "paused"
    """Not sent: the budget pauses for a 429 longer than ``max_rate_limit_wait``."""
    TOO_LARGE = "too large"
    """A body longer than ``max_body_size`` once decompressed; read no further."""


@dataclass(frozen=True, slots=True)
class Result:
    """What one attempt gave: an answer's ``status``, or a `Failure`, and a 429's pause."""

    status: int | None = None
    failure: Failure | None = None
    # For a 429: the seconds every request now pauses. For PAUSED: the pause left.
    pause: float = 0.0


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do after an attempt: return, raise, or wait ``delay`` s and try again."""

    outcome: Outcome
    delay: float = 0.0
    # Why a 429 fails at once: its pause is beyond ``max_rate_limit_wait``.
    too_long: bool = False


def decide(
    result: Result,
    *,
    retries: int,
    policy: RetryPolicy,
    rand: float,
    max_pause: float | None,
) -> Decision:
    """Return what ``result`` means for a call that has made ``retries`` retries so far.

    ``rand`` is a draw from ``[0, 1)`` for the backoff's jitter; ``max_pause``
    is ``max_rate_limit_wait`` (None: no bound).
    """
    limited = result.status == _TOO_MANY and result.failure is None
    too_long = result.failure is Failure.PAUSED or (
        limited and max_pause is not None and result.pause > max_pause
    )
    if result.failure is Failure.TOO_LARGE:
        return Decision(Outcome.FAIL)
    outcome = Outcome.RETRY if result.failure is not None else classify(result.status)
    if too_long or (outcome is Outcome.RETRY and policy.exhausted(retries + 1)):
        return Decision(Outcome.FAIL, too_long=too_long)
    if outcome is not Outcome.RETRY or limited:
        # After a 429 the budget holds this attempt, and every other, until the pause ends.
        return Decision(outcome)
    return Decision(Outcome.RETRY, delay=policy.delay(retries + 1, rand))


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Return the wait a ``Retry-After`` header asks for, in seconds, or ``None``.

    ``value`` is delta-seconds (``"120"``; a fraction and surrounding spaces are
    tolerated) or an HTTP date (``"Wed, 21 Oct 2015 07:28:00 GMT"``, also the
    obsolete RFC 850 and asctime forms), taken relative to ``now`` (unix seconds).
    A negative delay or a date in the past gives ``0.0``; anything beyond
    `MAX_RETRY_AFTER` is clamped to it. A missing or unreadable value gives
    ``None``, so the caller falls back to its own backoff.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELTA.fullmatch(text):
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            # RFC 9110: HTTP dates are always UTC ("-0000" parses as naive).
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff_delay(attempt: int, *, base: float, cap: float, rand: float) -> float:
    """Return the wait before retry number ``attempt`` (1 is the first retry).

    Exponential backoff with full jitter: a uniform draw from
    ``[0, min(cap, base * 2 ** (attempt - 1)))``, with ``rand`` the draw in
    ``[0, 1)``. Full jitter rather than equal jitter because the cap, not the
    backoff, protects the server: every retry still takes a slot under the rate
    limit, so the backoff only has to pull apart workers that failed together,
    and full jitter spreads them widest and finishes soonest (Brooker, "Exponential
    Backoff And Jitter", AWS Architecture Blog, 2015). Equal jitter would only
    guarantee a minimum wait that the rate budget already enforces.
    """
    if attempt < 1:
        raise InvalidParameterError(f"attempt must be >= 1, got {attempt!r}")
    if not 0.0 <= rand < 1.0:
        raise InvalidParameterError(f"rand must be in [0, 1), got {rand!r}")
    if base < 0 or cap < 0:
        raise InvalidParameterError(f"base and cap must be >= 0, got {base!r}, {cap!r}")
    # The exponent is bounded so that a very late attempt cannot overflow a float.
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 64))
    return rand * ceiling


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many retries a call gets, and the backoff between them.

    ``max_retries`` counts retries after the first attempt (0 means never
    retry); ``base`` is the first retry's backoff ceiling and ``cap`` the
    largest, both in seconds.
    """

    max_retries: int = 5
    base: float = 0.5
    cap: float = 30.0

    def __post_init__(self) -> None:
        """Refuse a policy that could not be followed."""
        check_non_negative_int("max_retries", self.max_retries)
        check_seconds("base", self.base, allow_zero=True)
        check_seconds("cap", self.cap, allow_zero=True)

    def exhausted(self, attempt: int) -> bool:
        """Return whether retry number ``attempt`` (1 is the first retry) is beyond the budget."""
        return attempt > self.max_retries

    def delay(self, attempt: int, rand: float) -> float:
        """Return the backoff before retry number ``attempt``, ``rand`` drawn from ``[0, 1)``."""
        return backoff_delay(attempt, base=self.base, cap=self.cap, rand=rand)
