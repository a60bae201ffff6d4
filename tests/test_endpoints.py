"""Every endpoint is described once, and a new one is a line or two over the shared resource."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import msgspec

import helpcrunch_async as hc
from helpcrunch_async._models.agents import decode_departments_page
from helpcrunch_async._resources import endpoints
from helpcrunch_async._resources.endpoints import Endpoint
from helpcrunch_async._resources.listing import Roster
from helpcrunch_async.testing import Account, Emulator

KEY = "test-key"
ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "helpcrunch_async"
TABLE: dict[str, Endpoint[Any]] = {
    name: value for name, value in vars(endpoints).items() if isinstance(value, Endpoint)
}


def client_for(emu: Emulator) -> hc.HelpCrunch:
    return hc.HelpCrunch(KEY, base_url=emu.base_url, backoff=0.01, max_backoff=0.05)


def test_each_endpoint_is_described_once() -> None:
    described = [(endpoint.method, endpoint.path) for endpoint in TABLE.values()]
    assert len(described) == len(set(described))
    assert len(TABLE) > 20  # reads and writes, in the one table


def test_every_listing_names_its_items_and_every_search_its_sorts() -> None:
    for name, endpoint in TABLE.items():
        if endpoint.sorts or endpoint.window is not None:
            assert endpoint.noun != "items", name
        if endpoint.search is not None:
            assert endpoint.method == "POST", name
            assert endpoint.sorts, name
            assert endpoint.window is not None, name


async def test_a_new_listing_is_two_lines_over_the_shared_resource() -> None:
    # A resource the package does not have: an endpoint, and a Roster over it.
    teams = Endpoint("GET", "/departments", decode_departments_page, noun="teams")

    class Teams(Roster[hc.DepartmentsPage, hc.Department]):
        _endpoint = teams

    async with (
        Emulator(customers=1, seed=2, api_key=KEY, account=Account(departments=130)) as emu,
        client_for(emu) as client,
    ):
        resource = Teams(client.departments._caller, concurrency=2)
        async with resource.iter_all(page_size=50) as scan:
            got = [team async for team in scan]
        page = await resource.list(offset=20, limit=10)
        truth = msgspec.convert(emu.truth_departments(), list[hc.Department])
        queries = [parse_qs(entry.query) for entry in emu.log]
    assert got == truth
    assert page.data == truth[20:30]
    assert scan.stats.items == 130
    assert "<Scan closed items=130" in repr(scan)
    # A listing without sorts is sent neither a sort nor an order, as before.
    assert all(set(query) == {"offset", "limit"} for query in queries)


def test_the_readme_shows_lines_the_package_holds() -> None:
    readme = (ROOT / "README.md").read_text()
    development = readme[readme.index("## Development") :]
    block = re.search(r"A new endpoint.*?```text\n(.*?)```", development, re.DOTALL)
    assert block is not None
    source = "\n".join(path.read_text() for path in PACKAGE.rglob("*.py"))
    lines = [line.strip() for line in block.group(1).splitlines()]
    code = [line for line in lines if line and not line.startswith("#")]
    assert len(code) >= 5
    for line in code:
        assert line in source, line
