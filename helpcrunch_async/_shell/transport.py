"""The one place that moves bytes: a request out, ``(status, headers, body)`` back.

Everything aiohttp lives here. Every attempt aiohttp puts on the wire, including
the one it silently repeats when a reused keep-alive connection turns out to be
closed, passes a client middleware that takes a slot from the rate budget first,
so the cap counts what the server counts. aiohttp's errors are turned into ours
at one choke point, with messages scrubbed of the API key.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp

from helpcrunch_async._errors import RequestTimeoutError, TransportError

if TYPE_CHECKING:
    from types import SimpleNamespace

    from multidict import CIMultiDictProxy
    from yarl import URL

    from helpcrunch_async._shell.budget import RateBudget

__all__ = ["Answer", "Fault", "Transport"]

# Slot-to-wire delays below this are noise, not worth a log correction.
_NEGLIGIBLE = 0.0005
_TOO_MANY = 429


@dataclass(slots=True)
class Answer:
    """One answer from the server: what the client's decisions need, nothing more."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    # The budget's stamp of the attempt that produced this answer.
    sent_at: float
    # Attempts on the wire for this call (aiohttp may repeat one).
    attempts: int


class Fault(Exception):  # noqa: N818 -- a carrier, never seen by callers
    """A failed call: the public error to raise if retries are spent, and its attempts."""

    def __init__(self, error: TransportError, *, attempts: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.attempts = attempts


@dataclass(slots=True)
class _Attempts:
    count: int = 0
    # The budget's stamp, and our clock when the slot was granted.
    sent_at: float = 0.0
    admitted: float = 0.0


class Transport:
    """Send one request at a time through the budget; own or borrow the session.

    ``timeout`` bounds each attempt from the moment it has its slot: connecting,
    sending and reading the whole body. Time spent waiting for a slot is never
    counted against it.
    """

    def __init__(
        self,
        *,
        budget: RateBudget,
        timeout: float,
        session: aiohttp.ClientSession | None = None,
        secret: str = "",
    ) -> None:
        self._budget = budget
        self._timeout = timeout
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._secret = secret
        # Per-attempt bounds only: aiohttp's total timeout would count slot waits.
        self._client_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeout, sock_read=timeout
        )

    @property
    def budget(self) -> RateBudget:
        """The rate budget every attempt goes through."""
        return self._budget

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this HelpCrunch client is closed; create a new one")
        if self._session is None:
            # More connections than concurrent requests: a request that has its
            # slot must never wait for a connection, or it would reach the
            # server later than the cap's log says it left.
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300)
            trace = aiohttp.TraceConfig()
            trace.on_request_headers_sent.append(self._headers_sent)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._client_timeout,
                raise_for_status=False,
                trace_configs=[trace],
            )
            self._owns_session = True
        return self._session

    async def request(self, method: str, url: URL, headers: dict[str, str]) -> Answer:
        """Send one request and read its whole body; raise TransportError on faults."""
        session = self._ensure_session()
        attempts = _Attempts()
        on_answered = getattr(self._budget, "on_answered", None)

        async def admit(
            req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
        ) -> aiohttp.ClientResponse:
            attempts.sent_at = await self._budget.acquire()
            attempts.admitted = time.monotonic()
            attempts.count += 1
            async with asyncio.timeout(self._timeout):
                response = await handler(req)
            if on_answered is not None:
                delay = time.monotonic() - attempts.admitted
                await on_answered(attempts.sent_at, delay, response.status == _TOO_MANY)
            return response

        try:
            async with session.request(
                method,
                url,
                headers=headers,
                timeout=self._client_timeout,
                middlewares=(admit,),
                allow_redirects=False,
                trace_request_ctx=attempts,
            ) as response:
                async with asyncio.timeout(self._timeout):
                    body = await response.read()
                return Answer(
                    status=response.status,
                    headers=response.headers,
                    body=body,
                    sent_at=attempts.sent_at,
                    attempts=attempts.count,
                )
        except TimeoutError:
            error: TransportError = RequestTimeoutError(
                f"{method} {_path(url)}: no complete answer within {self._timeout:g} s"
            )
            raise Fault(error, attempts=attempts.count) from None
        except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
            # `from None`: aiohttp's exceptions carry the request's headers, and
            # with them the Authorization header.
            error = TransportError(
                f"{method} {_path(url)}: {type(exc).__name__}: {self._scrub(str(exc))}"
            )
            raise Fault(error, attempts=attempts.count) from None

    async def _headers_sent(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestHeadersSentParams,
    ) -> None:
        # Only our own session carries this hook: with a caller's session the
        # cap's margin alone covers the time from slot to wire.
        del session, params
        attempts = context.trace_request_ctx
        on_sent = getattr(self._budget, "on_sent", None)
        if isinstance(attempts, _Attempts) and on_sent is not None:
            delay = time.monotonic() - attempts.admitted
            if delay > _NEGLIGIBLE:
                await on_sent(attempts.sent_at, delay)

    async def aclose(self) -> None:
        """Refuse further requests; close the session if this transport created it."""
        self._closed = True
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

    def _scrub(self, text: str) -> str:
        if self._secret and self._secret in text:
            text = text.replace(self._secret, "***")
        return text


def _path(url: URL) -> str:
    return url.path_qs
