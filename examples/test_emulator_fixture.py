"""Test synchronous code with the pytest plugin's fixtures (installing the package registers them).

Each fixture runs the emulator in a background thread, so it serves sync and async tests alike.
"""

import asyncio
from collections.abc import Callable

import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import Faults, ThreadedEmulator


def count_customers(base_url: str, api_key: str) -> int:
    """Stand-in for your synchronous code under test: it runs the client in its own loop."""

    async def count() -> int:
        client = hc.HelpCrunch(api_key, base_url=base_url, rate_limit=10, rate_period=1.0)
        async with client, client.customers.iter_all() as scan:
            return len([customer async for customer in scan])

    return asyncio.run(count())


@pytest.mark.helpcrunch_emulator(
    customers=300, policy="token-bucket", rate_limit=10, rate_period=1.0
)
def test_sync_code(helpcrunch_emulator: ThreadedEmulator) -> None:
    """The marker's options build the emulator; its log shows every request."""
    assert count_customers(helpcrunch_emulator.base_url, helpcrunch_emulator.api_key) == 300
    assert [entry.status for entry in helpcrunch_emulator.log] == [200] * 3


def test_several(helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]) -> None:
    """The factory starts as many as a test needs; here one whose second request fails."""
    flaky = helpcrunch_emulator_factory(customers=1000, faults=Faults(fail={2: "503"}))
    assert count_customers(flaky.base_url, flaky.api_key) == 1000
    assert [entry.status for entry in flaky.log].count(503) == 1
