"""A sync with ``redis_url`` draws on the budget it shares with other processes."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import pytest
from sync_fixtures import sync
from test_redis_budget import redis_server  # noqa: F401 -- the fixture

from helpcrunch_async._redis.budget import RedisBudget

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from test_redis_budget import RedisServer

    from helpcrunch_async.testing._thread import ThreadedEmulator

pytestmark = pytest.mark.redis

LIMIT, PERIOD = 20, 1.0


async def _spend_the_window(url: str) -> float:
    # Another process's budget on the same key takes every slot of the window.
    async with RedisBudget(url, "shared", limit=LIMIT, period=PERIOD) as other:
        for _ in range(LIMIT):
            await other.acquire()
        return time.monotonic()


def test_a_sync_waits_for_slots_another_process_took(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    tmp_path: Path,
    redis_server: RedisServer,  # noqa: F811 -- the fixture imported above
) -> None:
    emulator = helpcrunch_emulator_factory(customers=10, agents=3)
    spent = asyncio.run(_spend_the_window(redis_server.url))
    sync(
        emulator,
        tmp_path,
        only=("agents",),
        rate_limit=LIMIT,
        rate_period=PERIOD,
        redis_url=redis_server.url,
        redis_key="shared",
    )
    (request,) = emulator.log
    # Its one request left only once the other process's window had passed.
    assert request.time - spent >= PERIOD * 0.9
