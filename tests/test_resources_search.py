"""Customer and chat search over the emulator: the body, paging, totals, refusals at zero cost."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import Emulator, WireVariants

KEY = "test-key"


def client_for(emu: Emulator, **kwargs: Any) -> hc.HelpCrunch:
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("max_backoff", 0.05)
    kwargs.setdefault("max_retries", 1)
    return hc.HelpCrunch(KEY, base_url=emu.base_url, **kwargs)


def seen_after(customer: dict[str, Any], moment: int) -> bool:
    return customer["lastSeen"] is not None and int(customer["lastSeen"]) >= moment


def tag_names(customer: dict[str, Any]) -> set[str]:
    return {t["name"] for t in customer["tags"]}


async def test_search_sends_the_documented_body_and_reads_one_page() -> None:
    async with Emulator(customers=3000, seed=2, api_key=KEY) as emu, client_for(emu) as client:
        truth = emu.truth_customers()
        seen = sorted(int(c["lastSeen"]) for c in truth if c["lastSeen"] is not None)
        moment = seen[len(seen) // 4]
        where = [
            hc.Filter("customers.lastSeen", ">=", moment),
            hc.Filter("customers.tagsData", "=", ["Lead", {"name": "Paid"}]),
            hc.Filter("customers.email", "~", "a"),
        ]
        page = await client.customers.search(
            where, comparison="AND", sort="customers.lastSeen", order="desc", offset=0, limit=5
        )
        (entry,) = emu.log
    matching = [
        c
        for c in truth
        if seen_after(c, moment) and {"Lead", "Paid"} <= tag_names(c) and "a" in (c["email"] or "")
    ]
    assert isinstance(page, hc.CustomersPage)
    assert page.total == len(matching) > 5
    newest = sorted(matching, key=lambda c: (int(c["lastSeen"]), c["id"]), reverse=True)
    assert [c.id for c in page.data] == [c["id"] for c in newest[:5]]
    assert entry.method == "POST"
    assert entry.path == "/v1/customers/search"
    assert json.loads(entry.body or "") == {
        "filter": [
            {"field": "customers.lastSeen", "operator": ">=", "value": moment},
            {
                "field": "customers.tagsData",
                "operator": "=",
                "value": [{"name": "Lead"}, {"name": "Paid"}],
            },
            {"field": "customers.email", "operator": "~", "value": "a"},
        ],
        "comparison": "AND",
        "sort": "customers.lastSeen",
        "order": "desc",
        "offset": 0,
        "limit": 5,
    }


@pytest.mark.parametrize("placement", ["total", "meta", "both", "none"])
async def test_iter_search_pages_an_or_search_in_order_whatever_the_total_placement(
    placement: str,
) -> None:
    where = [
        hc.Filter("customers.tagsData", "=", ["Lead"]),
        hc.Filter("customers.tagsData", "=", ["Paid"]),
    ]
    async with (
        Emulator(
            customers=900,
            seed=4,
            api_key=KEY,
            variants=WireVariants(customers_search_total=placement),
        ) as emu,
        client_for(emu, concurrency=4) as client,
    ):
        async with client.customers.iter_search(where, comparison="OR", page_size=40) as scan:
            ids = [c.id async for c in scan]
        truth = emu.truth_customers()
        bodies = [json.loads(e.body or "") for e in emu.log]
    expected = [c["id"] for c in truth if tag_names(c) & {"Lead", "Paid"}]
    assert isinstance(scan, hc.CustomerScan)
    assert ids == expected
    assert len(expected) > 200
    assert sorted(b["offset"] for b in bodies) == sorted({b["offset"] for b in bodies})
    short = len(expected) % 40
    if placement == "none":
        # No count: read until a page comes back short, and the rest of its
        # window empty (a page cap looks the same).
        assert scan.stats.total_at_start is None
        assert len(bodies) == len(expected) // 40 + 1 + (short > 0)
        assert {b["limit"] for b in bodies} <= {40, 40 - short}
    else:
        assert {b["limit"] for b in bodies} == {40}
        assert scan.stats.total_at_start == len(expected)
        assert len(bodies) == -(-len(expected) // 40)


async def test_a_single_page_search_without_any_count_is_a_decode_error() -> None:
    async with (
        Emulator(
            customers=50, api_key=KEY, variants=WireVariants(customers_search_total="none")
        ) as emu,
        client_for(emu, max_retries=0) as client,
    ):
        with pytest.raises(hc.DecodeError, match="total"):
            await client.customers.search([hc.Filter("customers.id", ">", 0)])


@pytest.mark.parametrize("placement", ["total", "meta"])
async def test_chat_search_by_status_and_creation_time(placement: str) -> None:
    async with (
        Emulator(
            customers=100,
            chats=700,
            seed=8,
            api_key=KEY,
            variants=WireVariants(chats_search_total=placement),
        ) as emu,
        client_for(emu) as client,
    ):
        truth = emu.truth_chats()
        moment = sorted(c["createdAt"] for c in truth)[len(truth) // 3]
        since = datetime.fromtimestamp(moment, tz=UTC)
        where = [
            hc.Filter("chats.createdAt", ">=", since),
            hc.Filter("chats.status", "=", "closed"),
        ]
        page = await client.chats.search(where, sort="chats.createdAt", order="desc", limit=10)
        async with client.chats.iter_search(
            where, sort="chats.createdAt", order="desc", page_size=25
        ) as scan:
            chats = [c async for c in scan]
    expected = sorted(
        (c for c in truth if c["createdAt"] >= moment and c["status"] == "closed"),
        key=lambda c: (c["createdAt"], c["id"]),
        reverse=True,
    )
    assert isinstance(page, hc.ChatsPage)
    assert page.total == len(expected) > 25
    assert [c.id for c in page.data] == [c["id"] for c in expected[:10]]
    assert [c.id for c in chats] == [c["id"] for c in expected]
    assert all(c.status == "closed" for c in chats)


async def test_chat_search_by_customer_tags_and_assignee() -> None:
    async with (
        Emulator(customers=100, chats=400, seed=5, api_key=KEY) as emu,
        client_for(emu) as client,
    ):
        truth = emu.truth_chats()
        agent = next(c["assignee"]["id"] for c in truth if c["assignee"])
        where = [
            hc.Filter("chats.assignee", "=", agent),
            hc.Filter("chats.customer.tagsData", "=", ["Lead"]),
        ]
        ids = [c.id async for c in client.chats.iter_search(where, comparison="OR")]
        customers = {c["id"]: tag_names(c) for c in emu.truth_customers()}
    expected = [
        c["id"]
        for c in truth
        if (c["assignee"] and c["assignee"]["id"] == agent)
        or "Lead" in customers[c["customer"]["id"]]
    ]
    assert ids == expected


REFUSED: list[tuple[str, Any]] = [
    ("empty list", lambda c: c.customers.search([])),
    ("chat field", lambda c: c.customers.search([hc.Filter("chats.status", "=", "3")])),
    ("customer field", lambda c: c.chats.search([hc.Filter("customers.email", "~", "x")])),
    (
        "comparison",
        lambda c: c.customers.search([hc.Filter("customers.id", ">", 1)], comparison="and"),
    ),
    (
        "comparison",
        lambda c: c.chats.iter_search([hc.Filter("chats.agents", "=", 1)], comparison="XOR"),
    ),
    (
        "sort",
        lambda c: c.customers.search([hc.Filter("customers.id", ">", 1)], sort="chats.createdAt"),
    ),
    (
        "sort",
        lambda c: c.chats.iter_search(
            [hc.Filter("chats.agents", "=", 1)], sort="customers.lastSeen"
        ),
    ),
    ("order", lambda c: c.chats.search([hc.Filter("chats.agents", "=", 1)], order="DESC")),
    ("limit", lambda c: c.customers.search([hc.Filter("customers.id", ">", 1)], limit=101)),
    (
        "page_size",
        lambda c: c.customers.iter_search([hc.Filter("customers.id", ">", 1)], page_size=0),
    ),
    ("bare filter", lambda c: c.customers.iter_search(hc.Filter("customers.id", ">", 1))),
    ("built", lambda c: c.customers.search([hc.Filter("customers.id", "~", 1)])),
    ("built", lambda c: c.customers.search([hc.Filter("customers.tagsData", "!=", ["x"])])),
    ("built", lambda c: c.customers.search([hc.Filter("customers.email", ">", "x")])),
    ("built", lambda c: c.chats.search([hc.Filter("chats.createdAt", ">", "18 Jun 2020")])),
    ("built", lambda c: c.chats.search([hc.Filter("chats.customer", "=", "880001")])),
    ("built", lambda c: c.chats.search([hc.Filter("chats.department", "=", value=True)])),
    ("chat id", lambda c: c.chats.get("7")),
    ("chat id", lambda c: c.chats.iter_messages(0)),
]


@pytest.mark.parametrize(("what", "call"), REFUSED)
async def test_refused_arguments_cost_zero_requests(what: str, call: Any) -> None:
    async with Emulator(customers=10, chats=10, api_key=KEY) as emu, client_for(emu) as client:
        with pytest.raises(hc.InvalidParameterError):  # noqa: PT012 -- a call, then maybe its await
            result = call(client)
            if hasattr(result, "__await__"):
                await result
        assert emu.log == [], what
