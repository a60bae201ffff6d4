"""The one place that moves bytes, and the one owner of the rate budget's calls.

Everything aiohttp lives here. Every attempt aiohttp puts on the wire, including
the one it silently repeats when a reused keep-alive connection turns out to be
closed, passes a client middleware that takes a slot from the rate budget first,
so the cap counts what the server counts. The same middleware makes every other
call of the budget for that attempt (`RateBudget` declares them all): when it
reached the wire, when its answer came, and whether that answer was a 429, whose
pause travels back in the `Answer`. The ``Authorization`` header is set there
too, from the `Secret`, at the last moment.

Nothing here raises for a failed attempt: aiohttp's exceptions become an
`Answer` with a `Failure` and a scrubbed description, so that no exception the
client raises has aiohttp's (whose ``request_info`` holds the headers) in its
``__cause__`` or ``__context__``, and no frame on its traceback holds the key.

The `Failure` tells whether the server may have the request, which decides
whether a create may be sent again (`_core.writes`): an attempt that provably
never left is `Failure.NOT_SENT` (refused, DNS, TLS, a connect timeout, or, on
our own session, whose trace sees the headers go out, a timeout before they
went); one that may have left is `Failure.CONNECTION` or `Failure.TIMEOUT`. A
borrowed session has no trace, so its timeouts count as sent: the safe side.
"""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import hdrs

from helpcrunch_async._core.params import DEFAULT_MAX_BODY_SIZE
from helpcrunch_async._core.retry import Failure, parse_retry_after
from helpcrunch_async._errors import ClientClosedError

if TYPE_CHECKING:
    from types import SimpleNamespace

    from yarl import URL

    from helpcrunch_async._core.secret import Secret
    from helpcrunch_async._shell.budget import RateBudget

__all__ = ["Answer", "Transport"]

# Slot-to-wire delays below this are noise, not worth a log correction.
_NEGLIGIBLE = 0.0005
_TOO_MANY = 429


class _PausedTooLong(Exception):  # noqa: N818 -- a carrier inside the transport, never raised out
    """The budget's pause outlasts ``max_rate_limit_wait``: the attempt is not sent."""

    def __init__(self, left: float) -> None:
        super().__init__(left)
        self.left = left


@dataclass(slots=True, repr=False)
class Answer:
    """What one call of `Transport.send` gave: an answer, or why there was none.

    ``status`` is None when no complete answer came; ``failure`` then says why
    and ``detail`` describes it (scrubbed of the key). ``attempts`` counts the
    attempts on the wire (aiohttp may repeat one). For a 429, ``retry_after`` is
    the server's ``Retry-After`` and ``pause`` the seconds the budget now holds
    every request; for a `Failure.PAUSED` call ``pause`` is what was left of it.
    The ``repr`` shows no body: a body may echo what it should not.
    """

    status: int | None = None
    body: bytes = b""
    attempts: int = 0
    failure: Failure | None = None
    detail: str = ""
    retry_after: float | None = None
    pause: float = 0.0

    def __repr__(self) -> str:
        return (
            f"Answer(status={self.status}, failure={self.failure}, attempts={self.attempts}, "
            f"body=<{len(self.body)} bytes>)"
        )


@dataclass(slots=True)
class _Attempt:
    """The latest attempt of one send, as the middleware saw it."""

    count: int = 0
    # The budget's stamp, and our clock when the slot was granted.
    sent_at: float = 0.0
    admitted: float = 0.0
    # The end of this attempt on the loop's clock: headers and body together.
    deadline: float = field(default=0.0)
    retry_after: float | None = None
    pause: float = 0.0
    # Set by our session's trace once the request's headers were written: from
    # then on the server may have the request, before it nothing can have.
    headers_sent: bool = False
    traced: bool = False


class Transport:
    """Send one request at a time through the budget; own or borrow the session.

    ``timeout`` bounds each attempt end to end from the moment it has its slot:
    connecting, sending, the headers and the whole body together. Time spent
    waiting for a slot is never counted against it. ``max_pause`` is
    ``max_rate_limit_wait``: a send that would start inside a longer 429 pause
    is not made. ``max_body`` bounds a body as it is read, after decompression:
    reading stops at the first byte beyond it, and the connection is dropped.
    """

    def __init__(
        self,
        *,
        budget: RateBudget,
        timeout: float,
        secret: Secret,
        user_agent: str,
        session: aiohttp.ClientSession | None = None,
        max_pause: float | None = None,
        max_body: int = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        self._budget = budget
        self._max_body = max_body
        self._timeout = timeout
        self._secret = secret
        self._user_agent = user_agent
        self._max_pause = max_pause
        self._session = session
        self._owns_session = session is None
        self._closed = False
        # A view (`view`) sends through its parent's session and is closed with it.
        self._parent: Transport | None = None
        # Attempts waiting for a slot, and whether a long pause made them give up.
        self._waiting: dict[asyncio.Task[object], list[float]] = {}
        # Per-attempt bounds are ours (see `_admit`): aiohttp's total would count slot waits.
        self._client_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeout, sock_read=timeout
        )
        # The server's clock (unix seconds) by the `Date` of its latest answer.
        self.server_time: int | None = None

    @property
    def timeout(self) -> float:
        """Seconds for one attempt end to end, once it has its slot."""
        return self._timeout

    @property
    def secret(self) -> Secret:
        """The API key, for scrubbing what the wire sends back."""
        return self._secret

    def _headers_for(self, payload: bytes | None) -> dict[str, str]:
        # The key is not among them: the middleware adds it at the last moment.
        headers: dict[str, str] = {
            hdrs.ACCEPT: "application/json",
            hdrs.USER_AGENT: self._user_agent,
        }
        if payload is not None:
            headers[hdrs.CONTENT_TYPE] = "application/json"
        return headers

    def view(self, *, timeout: float, max_pause: float | None) -> Transport:
        """Return a transport with other bounds over this one's session and budget.

        The view never owns the session: it opens it through this transport (so
        both share one connection pool) and is closed when this one is.
        """
        sibling = Transport(
            budget=self._budget,
            timeout=timeout,
            secret=self._secret,
            user_agent=self._user_agent,
            session=self._session,
            max_pause=max_pause,
        )
        sibling._owns_session = False
        sibling._parent = self._parent or self
        return sibling

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("this HelpCrunch client is closed; create a new one")
        if self._parent is not None:
            return self._parent._ensure_session()  # noqa: SLF001 -- the same class
        if self._session is None:
            # More connections than concurrent requests: a request that has its
            # slot must never wait for a connection, or it would reach the
            # server later than the cap's log says it left.
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300)
            trace = aiohttp.TraceConfig()
            trace.on_request_start.append(self._request_start)
            trace.on_request_headers_sent.append(self._headers_sent)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._client_timeout,
                raise_for_status=False,
                trace_configs=[trace],
            )
            self._owns_session = True
        return self._session

    async def send(self, method: str, url: URL, payload: bytes | None = None) -> Answer:
        """Send one request (with a JSON ``payload``, if given) and read its whole body.

        Returns what came, and never raises for a fault: a failed attempt is an
        `Answer` whose ``failure`` says what went wrong.
        """
        session = self._ensure_session()
        if self._max_pause is not None:
            left = self._budget.pause_left()
            if left > self._max_pause:
                return Answer(failure=Failure.PAUSED, pause=left)
        attempt = _Attempt()
        failure: Failure
        try:
            async with session.request(
                method,
                url,
                headers=self._headers_for(payload),
                data=payload,
                timeout=self._client_timeout,
                middlewares=(self._admit_for(attempt),),
                allow_redirects=False,
                trace_request_ctx=attempt,
            ) as response:
                async with asyncio.timeout_at(attempt.deadline):
                    body = await _read_at_most(response.content, self._max_body)
                if body is None:
                    response.close()
                    return Answer(
                        status=response.status,
                        attempts=attempt.count,
                        failure=Failure.TOO_LARGE,
                        detail=(
                            f"the body is larger than max_body_size ({self._max_body:,} bytes "
                            "once decompressed); refused, not read further"
                        ),
                    )
                return Answer(
                    status=response.status,
                    body=body,
                    attempts=attempt.count,
                    retry_after=attempt.retry_after,
                    pause=attempt.pause,
                )
        except _PausedTooLong as paused:
            return Answer(attempts=attempt.count, failure=Failure.PAUSED, pause=paused.left)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # Raised while connecting (refused, DNS, TLS, connect timeout): not a byte left.
            failure = Failure.NOT_SENT
            detail = f"{type(exc).__name__}: {self._secret.scrub(str(exc))}"
        except TimeoutError:
            failure, detail = Failure.TIMEOUT, f"no complete answer within {self._timeout:g} s"
            if attempt.traced and not attempt.headers_sent:
                failure = Failure.NOT_SENT
        except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
            failure = Failure.CONNECTION
            detail = f"{type(exc).__name__}: {self._secret.scrub(str(exc))}"
        # Out of the except blocks: nothing built from here on has aiohttp's
        # exception as its context.
        return Answer(attempts=attempt.count, failure=failure, detail=detail)

    def _admit_for(self, attempt: _Attempt) -> aiohttp.ClientMiddlewareType:
        """Return the middleware every attempt of one send passes: slot, header, budget calls."""
        budget = self._budget

        async def admit(
            req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
        ) -> aiohttp.ClientResponse:
            attempt.sent_at = await self._acquire()
            attempt.admitted = time.monotonic()
            attempt.deadline = asyncio.get_running_loop().time() + self._timeout
            attempt.count += 1
            attempt.headers_sent = False
            req.headers[hdrs.AUTHORIZATION] = self._secret.bearer()
            async with asyncio.timeout_at(attempt.deadline):
                response = await handler(req)
            limited = response.status == _TOO_MANY
            self.server_time = _http_date(response.headers.get(hdrs.DATE), self.server_time)
            await budget.on_answered(attempt.sent_at, time.monotonic() - attempt.admitted, limited)
            if limited:
                attempt.retry_after = parse_retry_after(
                    response.headers.get(hdrs.RETRY_AFTER), now=time.time()
                )
                attempt.pause = await budget.on_rate_limited(attempt.sent_at, attempt.retry_after)
                if self._max_pause is not None and attempt.pause > self._max_pause:
                    self._release_waiters(attempt.pause)
            else:
                await budget.on_success(attempt.sent_at)
            return response

        return admit

    async def _acquire(self) -> float:
        """Wait for a slot; give up with `_PausedTooLong` if a long 429 pause starts meanwhile.

        While it waits, the attempt is listed in ``_waiting``; an answer of
        this transport that starts a pause beyond ``max_rate_limit_wait``
        cancels every listed wait (then uncancels it, as ``asyncio.timeout``
        does), so calls queued for a slot fail at once too. A cancelled
        acquire takes no slot.
        """
        if self._max_pause is None:
            return await self._budget.acquire()
        task = asyncio.current_task()
        assert task is not None  # noqa: S101 -- a middleware runs in a task
        seen: list[float] = []
        self._waiting[task] = seen
        try:
            return await self._budget.acquire()
        except asyncio.CancelledError:
            # Ours only if no one else cancelled the task meanwhile.
            if seen and task.uncancel() == 0:
                raise _PausedTooLong(seen[0]) from None
            raise
        finally:
            del self._waiting[task]

    def _release_waiters(self, pause: float) -> None:
        """Make every attempt still waiting for a slot give up: a pause of ``pause`` s began."""
        for task, seen in self._waiting.items():
            if not seen:
                seen.append(pause)
                task.cancel()

    async def _request_start(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        # Our session traces every request: a timeout before `_headers_sent` is NOT_SENT.
        del session, params
        attempt = context.trace_request_ctx
        if isinstance(attempt, _Attempt):
            attempt.traced = True

    async def _headers_sent(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestHeadersSentParams,
    ) -> None:
        # Only our own session carries this hook: with a caller's session the
        # cap's margin alone covers the time from slot to wire.
        del session, params
        attempt = context.trace_request_ctx
        if isinstance(attempt, _Attempt):
            attempt.headers_sent = True
            delay = time.monotonic() - attempt.admitted
            if delay > _NEGLIGIBLE:
                await self._budget.on_sent(attempt.sent_at, delay)

    async def aclose(self) -> None:
        """Refuse further requests; close the session if this transport created it."""
        self._closed = True
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()


def _http_date(value: str | None, previous: int | None) -> int | None:
    """Return an HTTP ``Date`` header as unix seconds (``previous`` if absent or unreadable)."""
    if not value:
        return previous
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return previous
    if when.tzinfo is None:
        return previous
    return int(when.timestamp())


async def _read_at_most(content: aiohttp.StreamReader, limit: int) -> bytes | None:
    """Return the whole body, or None as soon as it grows past ``limit`` bytes.

    aiohttp inflates a compressed body in bounded steps as it is read, so a
    small gzip that would inflate to gigabytes costs at most about ``limit``.
    """
    body = bytearray()
    async for chunk in content.iter_any():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)
