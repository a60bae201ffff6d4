"""Test your own asyncio code against the emulator, in the test's event loop.

Needs pytest-asyncio: mark each async test with ``@pytest.mark.asyncio``, or set
``asyncio_mode = "auto"`` under ``[tool.pytest.ini_options]`` in your pyproject.toml.
"""

import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import Emulator, max_in_any_window


async def my_job(api_key: str, base_url: str) -> int:
    """Stand-in for your code under test: read every customer, return how many."""
    client = hc.HelpCrunch(api_key, base_url=base_url, rate_limit=20, rate_period=1.0)
    async with client, client.customers.iter_all() as scan:
        return len([customer async for customer in scan])


@pytest.mark.asyncio
async def test_my_job_respects_the_cap() -> None:
    """The job reads everything, never more than 20 requests a second, and draws no 429."""
    async with Emulator(customers=3000, policy="sliding", rate_limit=20, rate_period=1.0) as emu:
        assert await my_job(api_key=emu.api_key, base_url=emu.base_url) == 3000
    assert max_in_any_window([e.time for e in emu.log], 1.0) <= 20
    assert not [e for e in emu.log if e.status == 429]
