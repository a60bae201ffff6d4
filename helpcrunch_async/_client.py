"""`HelpCrunch`: the public client, short glue over the budget, transport and resources."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Self

import aiohttp

from ._core.params import (
    BASE_URL_VARIABLE,
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_PERIOD,
    api_key_problem,
    base_url_from,
    check_non_negative_int,
    check_optional_seconds,
    check_positive_int,
    check_seconds,
)
from ._core.retry import RetryPolicy
from ._core.secret import Secret
from ._core.write_params import OMIT, Omit
from ._errors import InvalidParameterError
from ._resources.agents import Agents
from ._resources.applications import Applications
from ._resources.chats import Chats
from ._resources.customers import Customers
from ._resources.departments import Departments
from ._resources.organization import OrganizationResource
from ._shell.budget import LocalBudget, RateBudget
from ._shell.caller import Caller
from ._shell.transport import Transport
from ._version import VERSION

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["DEFAULT_BASE_URL", "HelpCrunch"]


class HelpCrunch:
    """An asyncio client for the HelpCrunch REST API.

    ``api_key`` falls back to the ``HELPCRUNCH_API_KEY`` environment variable,
    ``base_url`` to ``HELPCRUNCH_BASE_URL`` (unset or blank: the real API,
    `DEFAULT_BASE_URL`); either is checked like an argument.
    At most ``rate_limit`` requests leave in any ``rate_period`` seconds, every
    attempt counted; pass one ``rate_budget`` (a `LocalBudget`, or a budget
    shared through Redis) to several clients to make them share one cap.
    ``concurrency`` bounds the requests of one scan in flight; ``max_retries``
    bounds the retries of one call; ``timeout`` bounds one attempt end to end
    (connecting, the headers and the whole body) once it has its slot. A 429
    whose pause is longer than ``max_rate_limit_wait`` seconds (``None``: no
    bound) raises `RateLimitError` at once, with its ``retry_after``, instead
    of holding every request that long; so does every call of this client
    waiting for its slot then, and every call made while the pause lasts
    (of any client sharing the budget). A body larger than ``max_body_size``
    bytes once decompressed (8 MiB by default; a documented page is far
    smaller) is refused as it is read, with `DecodeError`, and not retried.
    Pass ``session`` to use an aiohttp
    session you own (it is then never closed here; its own middlewares are
    replaced per request by the budget's). Use it as ``async with``, or call
    `close`.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        rate_limit: int = DEFAULT_RATE_LIMIT,
        rate_period: float = DEFAULT_RATE_PERIOD,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_retries: int = 5,
        timeout: float = 30.0,
        session: aiohttp.ClientSession | None = None,
        rate_budget: RateBudget | None = None,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_rate_limit_wait: float | None = DEFAULT_MAX_RATE_LIMIT_WAIT,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        # Error reporters call repr on a half-built client (a bad argument): what
        # it shows is set before anything can raise.
        self._shown: tuple[str | None, RateBudget | None] = (None, None)
        # The key leaves every local at once, before anything can raise: an
        # error reporter records the locals of each frame on a traceback.
        raw = api_key if api_key is not None else os.environ.get("HELPCRUNCH_API_KEY")
        problem = api_key_problem(raw)
        secret = Secret(str(raw).strip() if problem is None else "")
        del api_key, raw
        if problem is not None:
            raise InvalidParameterError(problem)
        url = base_url_from(base_url, os.environ.get(BASE_URL_VARIABLE))
        check_positive_int("rate_limit", rate_limit)
        check_seconds("rate_period", rate_period)
        check_positive_int("concurrency", concurrency)
        check_non_negative_int("max_retries", max_retries)
        check_seconds("timeout", timeout)
        check_seconds("backoff", backoff, allow_zero=True)
        check_seconds("max_backoff", max_backoff, allow_zero=True)
        max_pause = check_optional_seconds("max_rate_limit_wait", max_rate_limit_wait)
        max_body = check_positive_int("max_body_size", max_body_size)
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise InvalidParameterError(
                f"session must be an aiohttp.ClientSession, got {session!r}"
            )
        if rate_budget is not None and not isinstance(rate_budget, RateBudget):
            raise InvalidParameterError(
                f"rate_budget must implement every member of RateBudget, got {rate_budget!r}"
            )

        self.base_url = str(url)
        self.budget: RateBudget = (
            rate_budget if rate_budget is not None else LocalBudget(rate_limit, rate_period)
        )
        self._transport = Transport(
            budget=self.budget,
            timeout=float(timeout),
            secret=secret,
            user_agent=f"helpcrunch-async/{VERSION}",
            session=session,
            max_pause=max_pause,
            max_body=max_body,
        )
        self._shown = (self.base_url, self.budget)
        self._url = url
        self._concurrency = concurrency
        self._wire(RetryPolicy(max_retries=max_retries, base=backoff, cap=max_backoff), max_pause)

    def _wire(self, retry: RetryPolicy, max_pause: float | None) -> None:
        """Build the caller and the resources over ``self._transport``."""
        self._retry, self._max_pause = retry, max_pause
        caller = Caller(
            transport=self._transport,
            base_url=self._url,
            retry=retry,
            max_rate_limit_wait=max_pause,
        )
        # One caller for every resource: every request draws on the one budget.
        self.customers = Customers(caller, concurrency=self._concurrency)
        self.chats = Chats(caller, concurrency=self._concurrency)
        self.agents = Agents(caller, concurrency=self._concurrency)
        self.departments = Departments(caller, concurrency=self._concurrency)
        self.organization = OrganizationResource(caller)
        self.applications = Applications(caller)

    def with_options(
        self,
        *,
        max_retries: int | None = None,
        timeout: float | None = None,
        max_rate_limit_wait: float | Omit | None = OMIT,
    ) -> HelpCrunch:
        """Return a view of this client that calls with other retry, timeout and 429-wait settings.

        The view shares this client's connection pool, rate budget and cap
        (every request of both counts once against the one limit); what is not
        passed stays as this client has it (``max_rate_limit_wait=None`` means
        wait however long). Closing the view closes only its own scans; closing
        this client closes the view too. A web request handler wants
        ``with_options(max_retries=0, timeout=2.0, max_rate_limit_wait=0)``; a
        batch job a long wait. Arguments are checked as the constructor checks them.
        """
        retry = self._retry
        if max_retries is not None:
            check_non_negative_int("max_retries", max_retries)
            retry = RetryPolicy(max_retries=max_retries, base=retry.base, cap=retry.cap)
        seconds = self._transport.timeout
        if timeout is not None:
            seconds = check_seconds("timeout", timeout)
        max_pause = self._max_pause
        if max_rate_limit_wait is not OMIT:
            max_pause = check_optional_seconds("max_rate_limit_wait", max_rate_limit_wait)
        view = object.__new__(HelpCrunch)
        view.base_url, view.budget, view._shown = self.base_url, self.budget, self._shown
        # The view's own members, set as __init__ sets them.
        view._url, view._concurrency = self._url, self._concurrency
        view._transport = self._transport.view(timeout=seconds, max_pause=max_pause)
        view._wire(retry, max_pause)
        return view

    def __repr__(self) -> str:
        # Never the key: not even a prefix of it.
        base_url, budget = self._shown
        return f"HelpCrunch(base_url={base_url!r}, budget={budget!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop every scan this client started and close the session it created."""
        for resource in (self.customers, self.chats, self.agents, self.departments):
            await resource.aclose()
        await self._transport.aclose()
