"""client.agents and client.departments over the emulator: pages with meta.total, or with none."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import Account, Emulator, WireVariants

KEY = "test-key"


def client_for(emu: Emulator, **kwargs: Any) -> hc.HelpCrunch:
    return hc.HelpCrunch(KEY, base_url=emu.base_url, backoff=0.01, max_backoff=0.05, **kwargs)


@pytest.mark.parametrize("placement", ["meta", "none"])
async def test_every_agent_and_department_in_order(placement: str) -> None:
    async with (
        Emulator(
            customers=1,
            seed=3,
            api_key=KEY,
            account=Account(agents=230, departments=150),
            variants=WireVariants(list_total=placement),
        ) as emu,
        client_for(emu, concurrency=3) as client,
    ):
        async with client.agents.iter_all(page_size=50) as agents_scan:
            agents = [a async for a in agents_scan]
        async with client.departments.iter_all() as departments_scan:
            departments = [d async for d in departments_scan]
        agents_truth = msgspec.convert(emu.truth_agents(), list[hc.Agent])
        departments_truth = msgspec.convert(emu.truth_departments(), list[hc.Department])
        page = await client.agents.list(offset=200, limit=100)
        dept_page = await client.departments.list(limit=10)
    assert isinstance(agents_scan, hc.Scan)
    assert agents == agents_truth
    assert departments == departments_truth
    assert any(d.agents for d in departments)
    assert isinstance(page, hc.AgentsPage)
    assert isinstance(dept_page, hc.DepartmentsPage)
    assert page.data == agents_truth[200:]
    assert dept_page.data == departments_truth[:10]
    if placement == "meta":
        assert (page.total, dept_page.total) == (230, 150)
        assert agents_scan.stats.requests == math.ceil(230 / 50)
        assert departments_scan.stats.requests == 2
    else:
        # No count: a full page promises one more; a short one ends the
        # listing once the rest of its window comes back empty (a page cap
        # looks the same): one request more.
        assert (page.total, dept_page.total) == (None, None)
        assert agents_scan.stats.total_at_start is None
        assert agents_scan.stats.requests == math.ceil(230 / 50) + 1
        assert departments_scan.stats.requests == 3


async def test_without_total_a_full_last_page_costs_one_empty_page() -> None:
    async with (
        Emulator(
            customers=1,
            api_key=KEY,
            account=Account(agents=100, departments=0),
            variants=WireVariants(list_total="none"),
        ) as emu,
        client_for(emu) as client,
    ):
        agents = [a async for a in client.agents.iter_all()]
        departments = [d async for d in client.departments.iter_all()]
        paths = [e.path for e in emu.log]
    assert len(agents) == 100
    assert departments == []
    # A full page promises one more; an empty listing costs one request.
    assert paths == ["/v1/agents"] * 2 + ["/v1/departments"]


async def test_bad_arguments_are_refused_before_any_request() -> None:
    async with Emulator(customers=1, api_key=KEY) as emu, client_for(emu) as client:
        with pytest.raises(hc.InvalidParameterError, match="limit"):
            await client.agents.list(limit=0)
        with pytest.raises(hc.InvalidParameterError, match="offset"):
            await client.departments.list(offset=-1)
        with pytest.raises(hc.InvalidParameterError, match="concurrency"):
            client.agents.iter_all(concurrency=0)
        with pytest.raises(hc.InvalidParameterError, match="offset"):
            client.departments.iter_all(start=-5)
        assert emu.log == []
