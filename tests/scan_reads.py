"""Reading a scan to its end or to its error, closing it either way (for the tests)."""

from __future__ import annotations

from typing import Any

import helpcrunch_async as hc


async def drain(scan: Any) -> list[Any]:
    """Every item of a scan, closing it however it ends."""
    async with scan:
        return [item async for item in scan]


async def until_error(scan: Any) -> tuple[list[Any], BaseException | None]:
    """The items a scan yields before it fails, and its error (None if it ends)."""
    got: list[Any] = []
    try:
        async with scan:
            async for item in scan:
                got.append(item)  # noqa: PERF401 -- the items before the error count
    except hc.HelpCrunchError as error:
        return got, error
    return got, None
