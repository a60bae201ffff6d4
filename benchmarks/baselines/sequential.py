"""Baseline: the loop most people write first.

One page after another with aiohttp and ``json.loads``; on a 429, sleep for
``Retry-After`` when the server sends it, else for a fixed ``fallback_sleep``, and
ask again. It never needs a rate limiter of its own at these latencies: it is
bound by the round trip, not by the cap.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

__all__ = ["iter_customers", "retry_after"]


async def iter_customers(
    base_url: str,
    api_key: str,
    *,
    page_size: int = 100,
    fallback_sleep: float = 1.0,
) -> AsyncGenerator[dict[str, Any], None]:
    """Yield every customer as a dict, one page at a time, in the server's order."""
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as session:
        offset = 0
        while True:
            params = {"offset": offset, "limit": page_size}
            async with session.get(f"{base_url}/customers", params=params) as response:
                body = await response.read()
                if response.status == 429:
                    await asyncio.sleep(retry_after(response.headers) or fallback_sleep)
                    continue
                response.raise_for_status()
            page = json.loads(body)
            for customer in page["data"]:
                yield customer
            offset += page_size
            if len(page["data"]) < page_size or offset >= page["total"]:
                return


def retry_after(headers: Any) -> float | None:
    """Return a 429's ``Retry-After`` in seconds, or None when it has none."""
    try:
        return float(headers["Retry-After"])
    except (KeyError, ValueError):
        return None
