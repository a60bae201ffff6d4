"""A sync with ``redis_url`` draws on the budget it shares with other processes.

Another client (its own event loop and thread, as another process would be)
reads the same emulator on the same Redis budget for as long as the sync runs.
The server, under a sliding cap of that budget, sees both together stay under
it: no window over the cap, no 429. With a budget of its own, the sync would
send as much again.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

import pytest
from sync_fixtures import sync
from test_redis_budget import redis_server  # noqa: F401 -- the fixture

from helpcrunch_async import HelpCrunch
from helpcrunch_async._redis.budget import RedisBudget
from helpcrunch_async.testing import max_in_any_window

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from test_redis_budget import RedisServer

    from helpcrunch_async.testing._thread import ThreadedEmulator

pytestmark = pytest.mark.redis

LIMIT, PERIOD = 20, 1.0


async def _other_process(url: str, emulator: ThreadedEmulator, stop: threading.Event) -> None:
    async with (
        RedisBudget(url, "shared", limit=LIMIT, period=PERIOD) as budget,
        HelpCrunch(emulator.api_key, base_url=emulator.base_url, rate_budget=budget) as client,
    ):
        while not stop.is_set():
            await client.customers.list(limit=1)


def test_a_sync_and_another_process_share_one_cap(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    tmp_path: Path,
    redis_server: RedisServer,  # noqa: F811 -- the fixture imported above
) -> None:
    emulator = helpcrunch_emulator_factory(
        customers=800, policy="sliding", rate_limit=LIMIT, rate_period=PERIOD
    )
    stop = threading.Event()
    other = threading.Thread(
        target=lambda: asyncio.run(_other_process(redis_server.url, emulator, stop))
    )
    other.start()
    try:
        report = sync(
            emulator,
            tmp_path,
            only=("customers",),
            rate_limit=LIMIT,
            rate_period=PERIOD,
            redis_url=redis_server.url,
            redis_key="shared",
        )
    finally:
        stop.set()
        other.join(timeout=30)
    theirs = [e for e in emulator.log if e.query == "offset=0&limit=1&order=asc"]
    assert report.requests == len(emulator.log) - len(theirs) > 5
    assert len(theirs) > 10
    assert max_in_any_window([e.time for e in emulator.log], PERIOD) <= LIMIT
    assert all(e.status != 429 for e in emulator.log)


def test_a_cap_below_four_with_redis_is_not_refused(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    tmp_path: Path,
    redis_server: RedisServer,  # noqa: F811 -- the fixture imported above
) -> None:
    # It was refused naming `fallback_workers`, which the command line does not have.
    emulator = helpcrunch_emulator_factory(customers=20)
    report = sync(
        emulator,
        tmp_path,
        only=("customers",),
        rate_limit=3,
        rate_period=0.2,
        redis_url=redis_server.url,
        redis_key="small-cap",
    )
    assert report.tables["customers"].new == 20
