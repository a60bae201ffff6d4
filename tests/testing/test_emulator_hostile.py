"""Hostile-server knobs on every list endpoint, and one rate budget for the whole API."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from emulator_api import Api, api

from helpcrunch_async.testing import Account, Emulator, Faults, WireVariants
from helpcrunch_async.testing._cli import configure

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

pytestmark = pytest.mark.timeout(60)


def account(**options: Any) -> Emulator:
    """An account with more than ten items behind every list endpoint."""
    return Emulator(
        customers=40, chats=30, seed=8, **options, account=Account(agents=12, departments=11)
    )


def endpoints(emu: Emulator) -> dict[str, Callable[[Api, int, int], Awaitable[tuple[int, Any]]]]:
    """Every list endpoint: (offset, limit) -> (item count, the reported total)."""
    chat_id = max(emu.expected_chat_ids(), key=emu.message_count)

    def listing(path: str, where: str, key: str = "data") -> Any:
        # key: the list's key; where: "total" (top level) or "meta".
        async def call(client: Api, offset: int, limit: int) -> tuple[int, Any]:
            page = await client.get(path, offset=offset, limit=limit)
            return len(page[key]), page["total"] if where == "total" else page["meta"]["total"]

        return call

    def searching(path: str) -> Any:
        async def call(client: Api, offset: int, limit: int) -> tuple[int, Any]:
            page = await client.post(path, {"offset": offset, "limit": limit})
            return len(page["data"]), page["total"]

        return call

    return {
        "customers": listing("/customers", "total"),
        "customers search": searching("/customers/search"),
        "chats": listing("/chats", "meta"),
        "chats search": searching("/chats/search"),
        "messages": listing(f"/chats/{chat_id}/messages", "total"),
        "agents": listing("/agents", "meta"),
        "departments": listing("/departments", "meta"),
    }


def true_totals(emu: Emulator) -> dict[str, int]:
    chat_id = max(emu.expected_chat_ids(), key=emu.message_count)
    return {
        "customers": emu.total,
        "customers search": emu.total,
        "chats": emu.chats_total,
        "chats search": emu.chats_total,
        "messages": emu.message_count(chat_id),
        "agents": len(emu.truth_agents()),
        "departments": len(emu.truth_departments()),
    }


async def test_page_cap_serves_at_most_k_items_on_every_list_endpoint() -> None:
    async with account(faults=Faults(page_cap=4)) as emu, api(emu) as client:
        totals = true_totals(emu)
        for name, call in endpoints(emu).items():
            assert totals[name] > 8, name
            assert await call(client, 0, 10) == (4, totals[name]), name
            assert await call(client, 2, 3) == (3, totals[name]), name
        emu.configure(page_cap=None)
        for name, call in endpoints(emu).items():
            assert await call(client, 0, 10) == (10, totals[name]), name


async def test_data_stops_at_n_while_the_total_claims_more_on_every_list_endpoint() -> None:
    async with account(faults=Faults(data_stops_at=6)) as emu, api(emu) as client:
        totals = true_totals(emu)
        for name, call in endpoints(emu).items():
            assert await call(client, 0, 4) == (4, totals[name]), name
            assert await call(client, 4, 4) == (2, totals[name]), name
            assert await call(client, 6, 4) == (0, totals[name]), name
            assert await call(client, 8, 4) == (0, totals[name]), name


async def test_fake_total_is_reported_by_every_list_endpoint() -> None:
    async with account() as emu, api(emu) as client:
        emu.configure(fake_total=10**12)
        for name, call in endpoints(emu).items():
            assert await call(client, 0, 5) == (5, 10**12), name


@pytest.mark.parametrize("style", ["old", "new"])
async def test_echo_auth_puts_the_authorization_header_into_every_error_message(
    style: str,
) -> None:
    async with (
        account(faults=Faults(echo_auth=True), variants=WireVariants(error_style=style)) as emu,
        api(emu) as client,
    ):
        for errors in (
            await client.error("GET", "/chats", 401, key="s3cr3t"),
            await client.error("GET", "/chats/1", 404),
            await client.error("POST", "/customers/search", 400, json={"limit": 0}),
            await client.error("GET", "/agents", 400, limit=500),
        ):
            assert errors
            assert all("(Authorization: Bearer " in e["message"] for e in errors), errors
        assert (
            "Bearer s3cr3t"
            in (await client.error("GET", "/customers", 401, key="s3cr3t"))[0]["message"]
        )
        emu.configure(echo_auth=False)
        errors = await client.error("GET", "/chats/1", 404)
        assert all(emu.api_key not in e["message"] for e in errors)


async def test_one_rate_budget_and_one_log_across_every_endpoint() -> None:
    async with (
        account(policy="fixed", rate_limit=7, rate_period=60.0) as emu,
        api(emu) as client,
    ):
        chat_id = emu.expected_chat_ids()[0]
        search = {"filter": [{"field": "customers.id", "operator": ">", "value": 1}]}
        calls = [
            ("GET", "/customers", None),
            ("POST", "/customers/search", search),
            ("GET", "/chats", None),
            ("POST", "/chats/search", {}),
            ("GET", f"/chats/{chat_id}", None),
            ("GET", f"/chats/{chat_id}/messages", None),
            ("GET", "/agents", None),
            ("GET", "/departments", None),
            ("GET", "/customers", None),
        ]
        statuses = [(await client.raw(m, p, json=j))[0] for m, p, j in calls]
        assert statuses == [200] * 7 + [429, 429], "the 8th request of any kind is refused"
        log = emu.log
        assert [(e.method, e.path) for e in log] == [
            (m, emu.base_url.removeprefix(emu.url) + p) for m, p, _ in calls
        ]
        assert [e.accepted for e in log] == [True] * 7 + [False] * 2
        assert msgspec.json.decode(log[1].body or "") == search
        assert log[0].body is None


def test_the_cli_takes_the_new_sizes_variants_and_knobs() -> None:
    parser = argparse.ArgumentParser()
    configure(parser)
    args = parser.parse_args(
        [
            "--chats=100000",
            "--agents=9",
            "--departments=4",
            "--messages-per-chat=5",
            "--error-style=new",
            "--messages-key=messages",
            "--list-total=none",
            "--customers-search-total=both",
            "--chats-search-total=meta",
            "--chats-updated-at",
            "--page-cap=50",
            "--data-stops-at=1500",
            "--fake-total=1000000000000",
            "--echo-auth",
        ]
    )
    assert (args.chats, args.agents, args.departments, args.messages_per_chat) == (
        100_000,
        9,
        4,
        5.0,
    )
    assert (args.error_style, args.messages_key, args.list_total) == ("new", "messages", "none")
    assert (args.customers_search_total, args.chats_search_total) == ("both", "meta")
    assert args.chats_updated_at
    assert (args.page_cap, args.data_stops_at, args.fake_total, args.echo_auth) == (
        50,
        1500,
        10**12,
        True,
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["--error-style=newest"])
