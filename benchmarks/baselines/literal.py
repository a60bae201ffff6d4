"""Baseline: the literal reading of our design with a stock limiter.

``aiolimiter.AsyncLimiter(R, W)`` paces every attempt; the first page learns
``total``, every other window is fetched at once with ``asyncio.gather`` (the
limiter alone decides when each leaves), and pages come back in offset order
(``gather`` keeps the order of its arguments). A 429 waits ``Retry-After``
when given, else a fixed ``fallback_sleep``, and goes through the limiter again.

The catch this baseline exists to show: the leaky bucket starts empty, so it
lets ``R`` through at once and then ``R`` more per ``W``: up to twice the limit
in the first window.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import aiohttp
from aiolimiter import AsyncLimiter

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

__all__ = ["iter_customers"]


async def iter_customers(
    base_url: str,
    api_key: str,
    *,
    rate_limit: int,
    rate_period: float,
    page_size: int = 100,
    fallback_sleep: float = 1.0,
) -> AsyncGenerator[dict[str, Any], None]:
    """Yield every customer as a dict in the server's order, all pages fetched at once."""
    limiter = AsyncLimiter(rate_limit, rate_period)
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    # No connection limit: the limiter, not the pool, is what paces requests.
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def fetch(offset: int) -> dict[str, Any]:
            params = {"offset": offset, "limit": page_size}
            while True:
                async with (
                    limiter,
                    session.get(f"{base_url}/customers", params=params) as response,
                ):
                    body = await response.read()
                if response.status == 429:
                    await asyncio.sleep(_retry_after(response.headers) or fallback_sleep)
                    continue
                response.raise_for_status()
                page: dict[str, Any] = json.loads(body)
                return page

        first = await fetch(0)
        for customer in first["data"]:
            yield customer
        offsets = range(page_size, first["total"], page_size)
        for page in await asyncio.gather(*(fetch(offset) for offset in offsets)):
            for customer in page["data"]:
                yield customer


def _retry_after(headers: Any) -> float | None:
    try:
        return float(headers["Retry-After"])
    except (KeyError, ValueError):
        return None
