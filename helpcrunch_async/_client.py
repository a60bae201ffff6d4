"""`HelpCrunch`: the public client, short glue over the budget, transport and resources."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Self

import aiohttp

from ._core.params import check_base_url, check_positive_int, check_seconds
from ._core.retry import RetryPolicy
from ._errors import InvalidParameterError
from ._resources.customers import Customers
from ._shell.budget import LocalBudget, RateBudget
from ._shell.caller import Caller
from ._shell.transport import Transport

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["DEFAULT_BASE_URL", "HelpCrunch"]

DEFAULT_BASE_URL = "https://api.helpcrunch.com/v1"
_USER_AGENT = "helpcrunch-async/0.1"


class HelpCrunch:
    """An asyncio client for the HelpCrunch REST API.

    ``api_key`` falls back to the ``HELPCRUNCH_API_KEY`` environment variable.
    At most ``rate_limit`` requests leave in any ``rate_period`` seconds, every
    attempt counted; pass one ``rate_budget`` (a `LocalBudget`, or a budget
    shared through Redis) to several clients to make them share one cap.
    ``concurrency`` bounds the requests of one scan in flight; ``max_retries``
    bounds the retries of one call; ``timeout`` bounds one attempt once it has
    its slot. Pass ``session`` to use an aiohttp session you own (it is then
    never closed here; its own middlewares are replaced per request by the
    budget's). Use it as ``async with``, or call `close`.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        rate_limit: int = 120,
        rate_period: float = 60.0,
        concurrency: int = 8,
        max_retries: int = 5,
        timeout: float = 30.0,
        session: aiohttp.ClientSession | None = None,
        rate_budget: RateBudget | None = None,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("HELPCRUNCH_API_KEY")
        if not key or not key.strip():
            raise InvalidParameterError(
                "no API key: pass api_key= or set the HELPCRUNCH_API_KEY environment variable"
            )
        key = key.strip()
        if any(ch in key for ch in "\r\n"):
            raise InvalidParameterError("the API key must be one line")
        url = check_base_url(base_url)
        check_positive_int("rate_limit", rate_limit)
        check_seconds("rate_period", rate_period)
        check_positive_int("concurrency", concurrency)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise InvalidParameterError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        check_seconds("timeout", timeout)
        check_seconds("backoff", backoff, allow_zero=True)
        check_seconds("max_backoff", max_backoff, allow_zero=True)
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise InvalidParameterError(
                f"session must be an aiohttp.ClientSession, got {session!r}"
            )

        self.base_url = str(url)
        self.budget: RateBudget = (
            rate_budget if rate_budget is not None else LocalBudget(rate_limit, rate_period)
        )
        self._transport = Transport(
            budget=self.budget,
            timeout=float(timeout),
            session=session,
            secret=key,
        )
        headers = {
            "Authorization": f"Bearer {key}",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        caller = Caller(
            transport=self._transport,
            base_url=url,
            headers=headers,
            retry=RetryPolicy(max_retries=max_retries, base=backoff, cap=max_backoff),
        )
        self.customers = Customers(caller, concurrency=concurrency)
        self._closed = False

    def __repr__(self) -> str:
        # Never the key: not even a prefix of it.
        return f"HelpCrunch(base_url={self.base_url!r}, budget={self.budget!r})"

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
        self._closed = True
        await self.customers.aclose()
        await self._transport.aclose()
