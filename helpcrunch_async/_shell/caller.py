"""One API call with its retries: send, ask `_core.retry.decide`, act on the answer.

Shell code: it sends through `_shell.transport`, waits and logs, and leaves every
decision (retry or not, how long, which error) to the pure modules. What each
attempt cost is reported to an optional `CostSink` (a scan's `ScanStats` is
one), so this module knows nothing of scans.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

import msgspec

from helpcrunch_async._core.retry import (
    Decision,
    Failure,
    Outcome,
    Result,
    RetryPolicy,
    decide,
)
from helpcrunch_async._core.writes import Effect, Step, WriteDecision, decide_write, unknown_fate
from helpcrunch_async._errors import (
    EXCERPT_BYTES,
    DecodeError,
    HelpCrunchError,
    RateLimitError,
    RequestTimeoutError,
    TransportError,
    error_for_status,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from yarl import URL

    from helpcrunch_async._shell.transport import Answer, Transport

__all__ = ["AttemptCost", "Caller", "CostSink", "Unresolved"]

T = TypeVar("T")
logger = logging.getLogger("helpcrunch_async")


@dataclass(frozen=True, slots=True)
class AttemptCost:
    """What one attempt of a call cost: wire requests, a retry, a 429 and its pause from ``at``."""

    requests: int
    retries: int
    rate_limited: int
    pause: float
    at: float


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A create whose last attempt left its fate unknown: read back before anything else.

    ``error`` is what that attempt would raise, ``applied`` True when a 2xx said the
    write happened (its body was lost), ``retries`` the retries made so far.
    """

    error: HelpCrunchError
    applied: bool
    retries: int


class CostSink(Protocol):
    """Anything that wants to hear what each attempt cost (a scan's `ScanStats`)."""

    def add_cost(self, cost: AttemptCost) -> None:
        """Count one attempt's cost."""
        ...


class Caller:
    """Send a call until it succeeds, fails for good, or runs out of retries."""

    def __init__(
        self,
        *,
        transport: Transport,
        base_url: URL,
        retry: RetryPolicy,
        max_rate_limit_wait: float | None = None,
    ) -> None:
        self._transport = transport
        self._base_url = base_url
        self._retry = retry
        self._max_pause = max_rate_limit_wait

    @property
    def server_time(self) -> int | None:
        """The server's clock by the ``Date`` header of its latest answer (unix seconds)."""
        return self._transport.server_time

    async def call(
        self,
        method: str,
        path: str,
        query: Mapping[str, str | int],
        decode: Callable[[bytes], T],
        cost: CostSink | None = None,
        *,
        body: bytes | None = None,
    ) -> T:
        """Return the decoded body of a 2xx answer, retrying what may be retried.

        ``body`` is sent as JSON (the search endpoints take their filters in a
        POST body); searches only read, so retrying them is as safe as a GET.

        Raises the `APIError` subclass for the status, `TransportError` or
        `DecodeError` once ``max_retries`` retries are spent, and `RateLimitError`
        at once for a 429 pause longer than ``max_rate_limit_wait``.
        """
        url = self._base_url.with_path(self._base_url.path + path).with_query(query)
        what = f"{method} {url.path_qs}"
        retries = 0
        while True:
            answer = await self._transport.send(method, url, body)
            result, decoded, error = self._judge(answer, decode, what)
            decision = decide(
                result,
                retries=retries,
                policy=self._retry,
                rand=random.random(),
                max_pause=self._max_pause,
            )
            if cost is not None:
                cost.add_cost(_cost_of(answer, decision))
            if decision.outcome is Outcome.SUCCESS:
                return cast("T", decoded)
            assert error is not None  # noqa: S101 -- every outcome but success has its error
            if decision.outcome is Outcome.FAIL:
                if decision.too_long:
                    error = self._too_long(answer, what)
                raise error
            retries += 1
            self._log_retry(answer, decision, error, what, retries)
            await asyncio.sleep(decision.delay)

    @property
    def policy(self) -> RetryPolicy:
        """The retry policy of every call of this caller."""
        return self._retry

    async def write(
        self,
        method: str,
        path: str,
        decode: Callable[[bytes], T],
        body: bytes | None,
        *,
        effect: Effect,
        deletes: bool = False,
        retries: int = 0,
    ) -> T | Unresolved:
        """Send one write, following `_core.writes.decide_write`; never send a create twice.

        Returns the decoded body of a 2xx, or `Unresolved` when a create's fate is
        unknown (the caller reads back, rules 4 and 5). A record's DELETE
        (``deletes``) answered 404 after an attempt whose fate was unknown returns
        ``decode(b"")`` (rule 2). Raises
        like `call` otherwise. ``retries`` counts the retries made before (a create
        sent again after a read-back found nothing).
        """
        url = self._base_url.with_path(self._base_url.path + path)
        what = f"{method} {url.path_qs}"
        unknown = False
        while True:
            answer = await self._transport.send(method, url, body)
            result, decoded, error = self._judge(answer, decode, what)
            decision: WriteDecision = decide_write(
                result,
                effect=effect,
                deletes=deletes,
                retries=retries,
                policy=self._retry,
                rand=random.random(),
                max_pause=self._max_pause,
                unknown_before=unknown or answer.attempts > 1,
            )
            unknown = unknown or unknown_fate(result)
            if decision.step is Step.SUCCESS:
                return decode(b"") if decision.deleted else cast("T", decoded)
            assert error is not None  # noqa: S101 -- every step but success has its error
            if decision.step is Step.READ_BACK:
                return Unresolved(error, decision.applied, retries)
            if decision.step is Step.FAIL:
                raise self._too_long(answer, what) if decision.too_long else error
            retries += 1
            self._log_retry(answer, Decision(Outcome.RETRY, decision.delay), error, what, retries)
            await asyncio.sleep(decision.delay)

    def _judge(
        self, answer: Answer, decode: Callable[[bytes], T], what: str
    ) -> tuple[Result, T | None, HelpCrunchError | None]:
        """Return an attempt's result for `decide`, its decoded body, and its error if it failed.

        Errors are built here, never raised: the loop raises them outside any
        ``except`` block, so none carries another exception as its context.
        """
        scrub = self._transport.secret.scrub
        if answer.failure is not None:
            # A body too large to read still came with its status: a create's rules need it.
            result = Result(status=answer.status, failure=answer.failure, pause=answer.pause)
            if answer.failure is Failure.TIMEOUT:
                return result, None, RequestTimeoutError(f"{what}: {answer.detail}", request=what)
            if answer.failure is Failure.TOO_LARGE:
                return result, None, DecodeError(f"{what}: {answer.detail}", reason=answer.detail)
            return result, None, TransportError(f"{what}: {answer.detail}", request=what)
        status = answer.status
        assert status is not None  # noqa: S101 -- an answer without a failure has a status
        if 200 <= status < 300:  # noqa: PLR2004 -- the 2xx range
            error: HelpCrunchError
            try:
                return Result(status=status), decode(answer.body), None
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
                # msgspec raises RecursionError for a body nested past its depth:
                # a hostile body like any other, not a crash of another kind.
                error = DecodeError.from_msgspec(exc, answer.body, request=what, scrub=scrub)
            return Result(status=status, failure=Failure.BAD_BODY), None, error
        error = error_for_status(
            status, answer.body, request=what, retry_after=answer.retry_after, scrub=scrub
        )
        return Result(status=status, pause=answer.pause), None, error

    def _too_long(self, answer: Answer, what: str) -> RateLimitError:
        """Return the error for a 429 pause beyond ``max_rate_limit_wait``."""
        if answer.failure is Failure.PAUSED:
            head = f"{what}: not sent: the rate budget pauses every request {answer.pause:.0f} s"
            retry_after: float | None = answer.pause
        else:
            wait = "" if answer.retry_after is None else f" (Retry-After {answer.retry_after:g} s)"
            head = f"429 Too Many Requests for {what}: the pause is {answer.pause:.0f} s{wait}"
            retry_after = answer.retry_after if answer.retry_after is not None else answer.pause
        return RateLimitError(
            f"{head}, longer than max_rate_limit_wait ({self._max_pause:g} s); not waiting",
            request=what,
            retry_after=retry_after,
        )

    def _log_retry(
        self, answer: Answer, decision: Decision, error: HelpCrunchError, what: str, retries: int
    ) -> None:
        if answer.status == HTTPStatus.TOO_MANY_REQUESTS:
            logger.warning(
                "429 for %s: every request pauses %.2f s (%s); retry %d of %d",
                what,
                answer.pause,
                "Retry-After" if answer.retry_after is not None else "backoff",
                retries,
                self._retry.max_retries,
            )
            return
        text = str(error)
        logger.warning(
            "retrying %s in %.2f s (retry %d of %d): %s",
            what,
            decision.delay,
            retries,
            self._retry.max_retries,
            text if len(text) <= EXCERPT_BYTES else text[:EXCERPT_BYTES] + "...",
        )


def _cost_of(answer: Answer, decision: Decision) -> AttemptCost:
    limited = answer.status == HTTPStatus.TOO_MANY_REQUESTS
    return AttemptCost(
        requests=answer.attempts,
        retries=int(decision.outcome is Outcome.RETRY),
        rate_limited=int(limited),
        pause=answer.pause if limited else 0.0,
        at=time.monotonic(),
    )
