"""One API call with its retries: the loop that asks `_retry` what a failure means.

Shell code: it sends through `_transport`, waits, logs, and leaves every
decision (retry or not, how long, which error) to the pure modules.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, TypeVar

import msgspec

from helpcrunch_async._core.retry import RetryPolicy, is_retryable, parse_retry_after
from helpcrunch_async._errors import DecodeError, HelpCrunchError, error_for_status
from helpcrunch_async._shell.transport import Fault, Transport

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from yarl import URL

    from helpcrunch_async._core.paging import ScanStats

__all__ = ["Caller"]

T = TypeVar("T")
logger = logging.getLogger("helpcrunch_async")

_EXCERPT = 200


class Caller:
    """Send a call until it succeeds, fails for good, or runs out of retries."""

    def __init__(
        self,
        *,
        transport: Transport,
        base_url: URL,
        headers: Mapping[str, str],
        retry: RetryPolicy,
    ) -> None:
        self._transport = transport
        self._base_url = base_url
        self._headers = dict(headers)
        self._retry = retry

    async def call(
        self,
        method: str,
        path: str,
        query: Mapping[str, str | int],
        decode: Callable[[bytes], T],
        stats: ScanStats | None = None,
    ) -> T:
        """Return the decoded body of a 2xx answer, retrying what may be retried.

        Raises the `APIError` subclass for the status, `TransportError` or
        `DecodeError` once ``max_retries`` retries are spent.
        """
        url = self._base_url.with_path(self._base_url.path + path).with_query(query)
        what = f"{method} {url.path_qs}"
        budget = self._transport.budget
        failures = 0
        while True:
            try:
                answer = await self._transport.request(method, url, self._headers)
            except Fault as fault:
                _count(stats, requests=fault.attempts)
                error: HelpCrunchError = fault.error
                delay = self._next_delay(failures, error, what)
                failures += 1
                _count(stats, retries=1)
                await asyncio.sleep(delay)
                continue
            _count(stats, requests=answer.attempts)
            status = answer.status
            if status == HTTPStatus.TOO_MANY_REQUESTS:
                retry_after = parse_retry_after(answer.headers.get("Retry-After"), now=time.time())
                pause = await budget.on_rate_limited(answer.sent_at, retry_after)
                _count(stats, rate_limited=1)
                if stats is not None:
                    stats.add_pause(time.monotonic(), pause)
                error = error_for_status(status, answer.body, request=what, retry_after=retry_after)
                if self._retry.exhausted(failures + 1):
                    raise error
                failures += 1
                _count(stats, retries=1)
                logger.warning(
                    "429 for %s: every request pauses %.2f s (%s); retry %d of %d",
                    what,
                    pause,
                    "Retry-After" if retry_after is not None else "backoff",
                    failures,
                    self._retry.max_retries,
                )
                # The budget holds this attempt, and every other, until the pause ends.
                continue
            await budget.on_success(answer.sent_at)
            if 200 <= status < 300:  # noqa: PLR2004 -- the 2xx range
                try:
                    return decode(answer.body)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    error = DecodeError(
                        f"{what}: the body is not the documented shape: {exc}",
                        body_excerpt=answer.body[:_EXCERPT],
                    )
            else:
                error = error_for_status(status, answer.body, request=what)
                if not is_retryable(status):
                    raise error
            delay = self._next_delay(failures, error, what)
            failures += 1
            _count(stats, retries=1)
            await asyncio.sleep(delay)

    def _next_delay(self, failures: int, error: HelpCrunchError, what: str) -> float:
        """Return the backoff before the next retry, or raise ``error`` if retries are spent."""
        attempt = failures + 1
        if self._retry.exhausted(attempt):
            raise error
        delay = self._retry.delay(attempt, random.random())
        logger.warning(
            "retrying %s in %.2f s (retry %d of %d): %s",
            what,
            delay,
            attempt,
            self._retry.max_retries,
            _reason(error),
        )
        return delay


def _reason(error: HelpCrunchError) -> str:
    text = str(error)
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


def _count(
    stats: ScanStats | None, *, requests: int = 0, retries: int = 0, rate_limited: int = 0
) -> None:
    if stats is not None:
        stats.requests += requests
        stats.retries += retries
        stats.rate_limited += rate_limited
