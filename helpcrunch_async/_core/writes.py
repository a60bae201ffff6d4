"""Write decisions: when a write may be sent again, and when its fate must be read back.

HelpCrunch takes no idempotency key, so a create sent twice is created twice.
Here is decided, for every attempt of a write, what its result means.
This module is pure (no aiohttp, no asyncio, no clock: times and the random
draw are arguments); `_shell.caller` and `_shell.writes` act on the answers.
The rules, also in the README ("Writing"):

1. Reads, ``PATCH``, ``PUT`` and ``DELETE`` repeat safely: each attempt is decided
   as a read's is (`_core.retry.decide`: 429, 5xx, dropped connections, timeouts and
   damaged bodies are retried within ``max_retries``).
2. A ``DELETE`` of a record answered 404 after an attempt of the same call whose
   fate is unknown (rule 4's cases, or aiohttp's own silent repeat on a dropped
   keep-alive connection) succeeded: the earlier attempt deleted the record.
3. A create (``POST /customers``, ``/chats``, ``/messages``, ``/events``) is sent
   again only when its attempt provably was not processed: it never left
   (`Failure.NOT_SENT`: connection refused, DNS, TLS, a connect timeout) or the
   server refused it unprocessed (429; a send held back by a long 429 pause never
   left either).
4. Any other failure of a create leaves its fate unknown: a timeout after the
   request was sent, the connection dropped before the whole answer came, a 5xx.
   A 2xx whose body did not arrive whole, did not decode, or was larger than
   ``max_body_size`` was applied, but its record is lost. Either way nothing is
   sent again before the fate is read back.
5. Reading back (`resolve`): found, the call returns the record read, as if the
   first answer had arrived. Not found after an unknown fate: nothing was applied,
   so sending again is safe (it counts as a retry; with none left the call raises
   the attempt's error, a clean failure). Not found after a 2xx: the server said it
   wrote what cannot be found, so `AmbiguousWriteError`. Nothing to read back by (an
   event; a customer with neither ``userId`` nor email), or several records that
   may each be the one (rule 7): `AmbiguousWriteError`, which says what may or
   may not have happened. A read-back that fails is one too.
6. Every other 4xx ends the call: the server refused the write and applied nothing.
7. A record read back matches a create when its own fields equal what was sent and
   it was created at or after ``sent - CLOCK_SKEW`` (`created_within`): the API
   gives times in whole seconds (or with milliseconds), and the server's clock is
   not ours. There is no upper bound: a server clock running ahead must not make
   the record look absent (a duplicate); a later record of someone else's makes
   two candidates, which is `AmbiguousWriteError`, never a guess.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from helpcrunch_async._core.retry import Failure, Outcome, Result, decide

if TYPE_CHECKING:
    from helpcrunch_async._core.retry import RetryPolicy

__all__ = [
    "CLOCK_SKEW",
    "CREATE_PATHS",
    "Effect",
    "Resolution",
    "Step",
    "WriteDecision",
    "created_within",
    "decide_write",
    "effect_of",
    "resolve",
    "unknown_fate",
]

CLOCK_SKEW = 5.0
"""Seconds by which the server's clock may differ from ours when a create is read back."""

CREATE_PATHS = frozenset({"/customers", "/chats", "/messages", "/events"})
"""The endpoints whose ``POST`` creates a record (rule 3)."""

_NOT_FOUND = 404
_SERVER_ERRORS = 500
_SUCCESS = range(200, 300)
# Failures after the request may have reached the server's processing (rule 4).
_UNKNOWN_FAILURES = (Failure.CONNECTION, Failure.TIMEOUT, Failure.BAD_BODY, Failure.TOO_LARGE)


class Effect(enum.Enum):
    """What sending a request twice does."""

    REPEATABLE = "repeatable"
    """A read, PATCH, PUT or DELETE: twice is the same as once (rule 1)."""
    CREATE = "create"
    """A POST that creates: twice is two records (rule 3)."""


def effect_of(method: str, path: str) -> Effect:
    """Return whether ``method path`` creates (rule 3) or repeats safely (rule 1)."""
    if method.upper() == "POST" and path in CREATE_PATHS:
        return Effect.CREATE
    return Effect.REPEATABLE


class Step(enum.Enum):
    """What to do after one attempt of a write."""

    SUCCESS = "success"
    RETRY = "retry"
    FAIL = "fail"
    READ_BACK = "read back"
    """The fate is unknown (or the record lost): find out by reading (rules 4, 5)."""


@dataclass(frozen=True, slots=True)
class WriteDecision:
    """What an attempt means: ``step``, the backoff before a retry, and why.

    ``applied`` is True for a read-back after a 2xx (the write happened for sure);
    ``too_long`` for a 429 pause beyond ``max_rate_limit_wait``; ``deleted`` for a
    record's DELETE answered 404 that rule 2 counts as success.
    """

    step: Step
    delay: float = 0.0
    too_long: bool = False
    applied: bool = False
    deleted: bool = False


def unknown_fate(result: Result) -> bool:
    """Return whether an attempt may have been applied without our knowing (rule 4)."""
    if result.failure in _UNKNOWN_FAILURES:
        return True
    return result.failure is None and result.status is not None and result.status >= _SERVER_ERRORS


def decide_write(
    result: Result,
    *,
    effect: Effect,
    deletes: bool,
    retries: int,
    policy: RetryPolicy,
    rand: float,
    max_pause: float | None,
    unknown_before: bool,
) -> WriteDecision:
    """Return what ``result`` means for a write that has made ``retries`` retries.

    ``deletes`` says the write deletes a record (``DELETE /customers/{id}``; not
    ``DELETE .../tags``, whose 404 means the customer is gone). ``unknown_before``
    says an earlier attempt of this call (or an earlier wire attempt of this one:
    aiohttp repeats a request on a dropped keep-alive connection) left its fate
    unknown. ``rand`` and ``max_pause`` are `decide`'s.
    """
    if deletes and unknown_before and result.failure is None and result.status == _NOT_FOUND:
        return WriteDecision(Step.SUCCESS, deleted=True)
    if effect is Effect.CREATE and unknown_fate(result):
        applied = result.failure is Failure.BAD_BODY or (
            result.failure is Failure.TOO_LARGE and result.status in _SUCCESS
        )
        return WriteDecision(Step.READ_BACK, applied=applied)
    # What is left of a create's retried results never reached the server's
    # processing: NOT_SENT, PAUSED and 429 (rule 3); the 5xx went to rule 4.
    read = decide(result, retries=retries, policy=policy, rand=rand, max_pause=max_pause)
    step = {Outcome.SUCCESS: Step.SUCCESS, Outcome.RETRY: Step.RETRY, Outcome.FAIL: Step.FAIL}
    return WriteDecision(step[read.outcome], delay=read.delay, too_long=read.too_long)


class Resolution(enum.Enum):
    """What a read-back found means (rule 5)."""

    FOUND = "found"
    """Return the record read: the write was applied once."""
    SEND_AGAIN = "send again"
    """Nothing was applied: sending again is safe."""
    GIVE_UP = "give up"
    """Nothing was applied and no retry is left: raise the attempt's error."""
    AMBIGUOUS = "ambiguous"
    """It cannot be known: raise `AmbiguousWriteError`."""


def resolve(
    *, readable: bool, found: bool, applied: bool, retries: int, policy: RetryPolicy
) -> Resolution:
    """Return what a read-back means (rule 5).

    ``readable`` says there was something to read back by; ``found`` what the
    read found; ``applied`` that a 2xx said the write happened; ``retries`` the
    retries made so far.
    """
    if not readable:
        return Resolution.AMBIGUOUS
    if found:
        return Resolution.FOUND
    if applied:
        return Resolution.AMBIGUOUS
    if policy.exhausted(retries + 1):
        return Resolution.GIVE_UP
    return Resolution.SEND_AGAIN


def created_within(created_at: float | None, *, sent: float) -> bool:
    """Return whether a record stamped ``created_at`` may be the one a create sent at ``sent``.

    Times are unix seconds; the server's may be whole seconds (floored) or carry
    milliseconds, and its clock may lag ours by up to `CLOCK_SKEW` (rule 7).
    """
    if created_at is None or not math.isfinite(created_at):
        return False
    return math.floor(sent - CLOCK_SKEW) <= created_at
