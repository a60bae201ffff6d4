"""Baseline: the messages loop most people write first, one chat and one page at a time.

For each chat, ``GET /chats/{id}/messages`` page after page with aiohttp and
``json.loads`` until a short page or the ``total``; on a 429, sleep for
``Retry-After`` when the server sends it, else for ``fallback_sleep``, and ask
again. At these latencies it is bound by the round trip, never by the cap.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import aiohttp

from benchmarks.baselines.sequential import retry_after

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

__all__ = ["iter_messages"]


async def iter_messages(
    base_url: str,
    api_key: str,
    chat_ids: list[int] | None,
    *,
    page_size: int = 100,
    fallback_sleep: float = 1.0,
) -> AsyncGenerator[dict[str, Any], None]:
    """Yield every message of each chat (of every chat, when ``chat_ids`` is None) as a dict."""
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as session:

        async def pages(path: str) -> AsyncGenerator[list[dict[str, Any]], None]:
            offset = 0
            while True:
                params = {"offset": offset, "limit": page_size}
                async with session.get(f"{base_url}{path}", params=params) as response:
                    body = await response.read()
                    if response.status == 429:
                        await asyncio.sleep(retry_after(response.headers) or fallback_sleep)
                        continue
                    response.raise_for_status()
                page = json.loads(body)
                yield page["data"]
                offset += page_size
                total = page.get("total", page.get("meta", {}).get("total"))
                if len(page["data"]) < page_size or (total is not None and offset >= total):
                    return

        if chat_ids is None:
            chat_ids = [chat["id"] async for data in pages("/chats") for chat in data]
        for chat_id in chat_ids:
            async for data in pages(f"/chats/{chat_id}/messages"):
                for message in data:
                    yield message
