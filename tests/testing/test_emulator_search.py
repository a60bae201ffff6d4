"""The emulator's POST /customers/search and POST /chats/search over loopback HTTP.

The brute-force filters (``search_truth``) are written from customers-search.md,
independently of the emulator's code, and compared with what the server answers.
"""

from __future__ import annotations

from typing import Any

import pytest
from emulator_api import api
from hypothesis import HealthCheck, given, settings
from search_truth import brute_force, chat_value_of, customer_value, post, search_bodies

from helpcrunch_async.testing import (
    CHAT_FIELDS,
    CUSTOMER_FIELDS,
    Account,
    Emulator,
    ThreadedEmulator,
    WireVariants,
)

pytestmark = pytest.mark.timeout(120)


def test_customer_search_equals_a_brute_force_filter_of_the_truth() -> None:
    with ThreadedEmulator(customers=300, seed=11) as emu:
        truth = emu.truth_customers()
        by_id = {c["id"]: c for c in truth}
        fields = CUSTOMER_FIELDS
        sorts: list[str | None] = [None, "customers.firstSeen", "customers.lastSeen"]

        @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(body=search_bodies(truth, fields, sorts, customer_value))
        def check(body: dict[str, Any]) -> None:
            status, answer = post(emu, "/customers/search", body)
            assert status == 200, answer
            total, ids = brute_force(truth, body, customer_value)
            assert answer["total"] == total
            assert [c["id"] for c in answer["data"]] == ids
            assert answer["data"] == [by_id[i] for i in ids]

        check()


def test_chat_search_equals_a_brute_force_filter_of_the_truth() -> None:
    with ThreadedEmulator(
        customers=60, chats=150, seed=4, account=Account(agents=5, departments=3)
    ) as emu:
        emu.add_chats(3)
        emu.close_chat(emu.expected_chat_ids()[0])
        truth = emu.truth_chats()
        value = chat_value_of(emu)
        sorts: list[str | None] = [
            None,
            "chats.createdAt",
            "chats.lastCustomerMessageAt",
            "chats.lastMessageAt",
            "chats.closedAt",
        ]

        @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(body=search_bodies(truth, CHAT_FIELDS, sorts, value))
        def check(body: dict[str, Any]) -> None:
            status, answer = post(emu, "/chats/search", body)
            assert status == 200, answer
            total, ids = brute_force(truth, body, value)
            assert answer["total"] == total
            assert [c["id"] for c in answer["data"]] == ids

        check()


async def search(emu: Emulator, path: str, body: dict[str, Any]) -> Any:
    async with api(emu) as client:
        return await client.post(path, body)


def where(*filters: tuple[str, str, Any], **rest: Any) -> dict[str, Any]:
    return {"filter": [{"field": f, "operator": o, "value": v} for f, o, v in filters], **rest}


async def test_each_operator_on_each_type() -> None:
    async with Emulator(customers=400, seed=2) as emu:
        truth = emu.truth_customers()
        some = next(
            c
            for c in truth
            if c["email"] and c["firstSeen"] and c["location"]["city"] and len(c["tags"]) >= 2
        )
        cases: list[tuple[str, str, Any]] = [
            ("customers.id", "=", some["id"]),
            ("customers.id", "!=", some["id"]),
            ("customers.id", ">", some["id"]),
            ("customers.id", "<=", some["id"]),
            ("customers.lastSeen", ">=", some["lastSeen"]),
            ("customers.lastSeen", "<", some["lastSeen"]),
            ("customers.firstSeen", "=", some["firstSeen"]),
            ("customers.email", "=", some["email"]),
            ("customers.email", "~", "example"),
            ("customers.email", "!~", "example"),
            ("customers.city", "=", some["location"]["city"]),
            ("customers.name", "!=", some["name"]),
            ("customers.tagsData", "=", [t["name"] for t in some["tags"]]),
            ("customers.tagsData", "=", [{"name": t["name"]} for t in some["tags"][:1]]),
        ]
        for case in cases:
            body = where(case, limit=100)
            answer = await search(emu, "/customers/search", body)
            total, ids = brute_force(truth, body, customer_value)
            assert answer["total"] == total, case
            assert [c["id"] for c in answer["data"]] == ids, case
            assert 0 < total < len(truth), f"{case} should split the account"
        both = [t["name"] for t in some["tags"][:2]]
        all_tags = await search(emu, "/customers/search", where(("customers.tagsData", "=", both)))
        assert all(set(both) <= {t["name"] for t in c["tags"]} for c in all_tags["data"])
        either = where(
            ("customers.tagsData", "=", both[:1]),
            ("customers.tagsData", "=", both[1:]),
            comparison="OR",
        )
        assert (await search(emu, "/customers/search", either))["total"] > all_tags["total"]


@pytest.mark.parametrize(
    ("condition", "path"),
    [
        (("customers.id", "=", "100007"), "filter[1].value"),
        (("customers.id", "=", True), "filter[1].value"),
        (("customers.lastSeen", ">=", "18 Jun 2020"), "filter[1].value"),
        (("customers.email", "=", 5), "filter[1].value"),
        (("customers.id", "~", 5), "filter[1].operator"),
        (("customers.email", ">", "a"), "filter[1].operator"),
        (("customers.tagsData", "!=", ["Lead"]), "filter[1].operator"),
        (("customers.tagsData", "=", []), "filter[1].value"),
        (("customers.createdAt", ">", 5), "filter[1].field"),
    ],
)
async def test_a_wrong_filter_is_a_400_that_names_it(
    condition: tuple[str, str, Any], path: str
) -> None:
    body = where(("customers.id", ">", 1), condition)
    async with Emulator(customers=10) as emu, api(emu) as client:
        old = await client.error("POST", "/customers/search", 400, json=body)
        assert old == [{"code": "validation_error", "message": f"{path} value is invalid"}]
        emu.configure(error_style="new")
        new = await client.error("POST", "/customers/search", 400, json=body)
        assert new[0] == {"code": "invalid_request", "message": "Invalid request"}
        assert [entry["code"] for entry in new[1:]] == [path]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"comparison": "XOR"}, "comparison"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"sort": "customers.name"}, "sort"),
        ({"order": "up"}, "order"),
        ({"filter": {"field": "customers.id"}}, "filter"),
    ],
)
async def test_a_wrong_body_key_is_a_400_that_names_it(body: dict[str, Any], path: str) -> None:
    async with (
        Emulator(customers=10, variants=WireVariants(error_style="new")) as emu,
        api(emu) as client,
    ):
        errors = await client.error("POST", "/customers/search", 400, json=body)
        assert [entry["code"] for entry in errors] == ["invalid_request", path]


@pytest.mark.parametrize(
    ("placement", "keys"),
    [("total", {"total"}), ("meta", {"meta"}), ("both", {"total", "meta"}), ("none", set())],
)
async def test_the_search_total_goes_where_configured(placement: str, keys: set[str]) -> None:
    body = where(("customers.id", ">", 100_050))
    async with Emulator(customers=50, chats=20) as emu, api(emu) as client:
        emu.configure(customers_search_total=placement, chats_search_total=placement)
        for path in ("/customers/search", "/chats/search"):
            answer = await client.post(path, body if path == "/customers/search" else {})
            assert set(answer) == {"data"} | keys
            expected = (
                sum(c["id"] > 100_050 for c in emu.truth_customers())
                if path == "/customers/search"
                else 20
            )
            if "total" in keys:
                assert answer["total"] == expected
            if "meta" in keys:
                assert answer["meta"] == {"total": expected}


async def test_an_id_range_count_on_the_benchmark_account_needs_no_per_customer_arrays() -> None:
    async with Emulator(customers=754_698) as emu, api(emu) as client:
        low, high = 2_000_000, 2_001_400
        body = where(("customers.id", ">=", low), ("customers.id", "<", high), limit=100)
        first = await client.post("/customers/search", body)
        second = await client.post("/customers/search", {**body, "offset": 100})
        ids = [c["id"] for c in first["data"] + second["data"]]
        assert first["total"] == len(ids) == second["total"]
        assert 150 < len(ids) < 250
        assert ids == sorted(ids)
        assert all(low <= i < high for i in ids)
        assert ids[0] == min(i for i in ids)
        assert emu.dataset._first_seen is None, "no timestamp array was built"
        gap_before = await client.post(
            "/customers/search", where(("customers.id", "<", low), limit=1, order="desc")
        )
        assert gap_before["data"][0]["id"] < ids[0]
        assert (
            gap_before["total"]
            + first["total"]
            + (
                await client.post("/customers/search", where(("customers.id", ">=", high), limit=1))
            )["total"]
            == 754_698
        )


async def test_a_visit_moves_a_customer_in_the_last_seen_order_and_in_search() -> None:
    async with Emulator(customers=500, seed=9) as emu, api(emu) as client:
        old = emu.expected_ids("customers.lastSeen", "asc")[10]
        before = emu.customer(old)
        assert before is not None
        assert emu.visit([old]) == [old]
        after = emu.customer(old)
        assert after is not None
        assert after["lastSeen"] > max(
            c["lastSeen"] or 0 for c in emu.truth_customers() if c["id"] != old
        )
        assert {**after, "lastSeen": before["lastSeen"]} == before
        assert emu.total == 500
        newest = await client.get("/customers", sort="customers.lastSeen", order="desc", limit=1)
        assert newest["data"] == [after]
        found = await client.post(
            "/customers/search",
            where(("customers.lastSeen", ">=", after["lastSeen"]), sort="customers.lastSeen"),
        )
        assert found == {"data": [after], "total": 1}
        visited = emu.visit(count=5)
        found = await client.post(
            "/customers/search",
            where(
                ("customers.lastSeen", ">=", after["lastSeen"]),
                sort="customers.lastSeen",
                order="desc",
            ),
        )
        assert [c["id"] for c in found["data"]] == [*visited[::-1], old]


async def test_chat_search_finds_chats_by_update_and_the_docs_numeric_statuses() -> None:
    async with Emulator(customers=30, chats=60) as emu, api(emu) as client:
        since = max(emu.chat_updated_at(i) for i in emu.expected_chat_ids()) + 1
        chat_id = emu.expected_chat_ids()[3]
        emu.add_messages(chat_id, 1)
        (new_chat,) = emu.add_chats(1)
        changed = await client.post(
            "/chats/search", where(("chats.updatedAt", ">=", since), sort="chats.createdAt")
        )
        assert [c["id"] for c in changed["data"]] == [chat_id, new_chat]
        closed = await client.post("/chats/search", where(("chats.status", "=", "5")))
        spelled = await client.post("/chats/search", where(("chats.status", "=", "closed")))
        assert closed == spelled
        assert closed["total"] > 0
