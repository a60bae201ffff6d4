"""The emulator's chats, messages, agents and departments over loopback HTTP."""

from __future__ import annotations

import statistics
import tracemalloc
from typing import Any

import pytest
from emulator_api import Api, api

from helpcrunch_async.testing import CHAT_SORT_FIELDS, Account, Drift, Emulator

pytestmark = pytest.mark.timeout(60)

CHAT_KEYS = {
    "id",
    "closedBy",
    "lastCustomerMessageAt",
    "status",
    "closedAt",
    "rating",
    "createdAt",
    "lastMessageAt",
    "readByAgent",
    "readByCustomer",
    "createdWith",
    "snoozedUntil",
    "lastMessageText",
    "lastMessageId",
    "applicationId",
    "lastCommunicatedAgentId",
    "agents",
    "customer",
    "assignee",
    "department",
}
MESSAGE_KEYS = {
    "id",
    "agent",
    "type",
    "text",
    "read",
    "createdAt",
    "updatedAt",
    "edited",
    "broadcastType",
    "chat",
    "from",
}


async def every_page(
    client: Api, path: str, limit: int, key: str = "data", **params: Any
) -> list[Any]:
    items: list[Any] = []
    while True:
        page = await client.get(path, offset=len(items), limit=limit, **params)
        items += page[key]
        if len(page[key]) < limit:
            return items


def sort_key(field: str | None, chat: dict[str, Any]) -> tuple[int, int]:
    if field is None:
        return (0, chat["id"])
    value = chat[field.removeprefix("chats.")]
    return (-1 if value is None else int(value), chat["id"])


@pytest.mark.parametrize("sort", [None, *CHAT_SORT_FIELDS])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_chat_pages_cover_every_chat_once_in_the_documented_order(
    sort: str | None, order: str
) -> None:
    async with Emulator(customers=50, chats=90, seed=3) as emu, api(emu) as client:
        params = {"order": order} if sort is None else {"sort": sort, "order": order}
        first = await client.get("/chats", limit=7, **params)
        assert first["meta"] == {"total": 90}
        chats = await every_page(client, "/chats", 7, **params)
        ids = [chat["id"] for chat in chats]
        assert ids == emu.expected_chat_ids(sort, order)
        assert len(set(ids)) == 90
        keys = [sort_key(sort, chat) for chat in chats]
        assert keys == sorted(keys, reverse=order == "desc"), "(timestamp, id), nulls lowest"
        if sort == "chats.closedAt":
            nulls = [chat["closedAt"] is None for chat in chats]
            # asc: every null before every timestamp; desc: the converse.
            assert nulls == sorted(nulls, reverse=order == "asc")
            assert any(nulls)
            assert not all(nulls)


async def test_ties_are_broken_by_id() -> None:
    async with (
        Emulator(customers=20, chats=40, account=Account(messages_per_chat=0)) as emu,
        api(emu) as client,
    ):
        # Without messages every chat is empty: lastMessageAt is null for all, one big tie.
        chats = await every_page(client, "/chats", 9, sort="chats.lastMessageAt", order="desc")
        assert {chat["lastMessageAt"] for chat in chats} == {None}
        assert [chat["id"] for chat in chats] == sorted((c["id"] for c in chats), reverse=True)


async def test_chat_list_parameters_defaults_limits_and_both_error_styles() -> None:
    async with Emulator(customers=20, chats=130) as emu, api(emu) as client:
        assert len((await client.get("/chats"))["data"]) == 100, "default limit 100"
        for params in ({"limit": 101}, {"limit": 0}, {"offset": -1}, {"sort": "chats.id"}):
            errors = await client.error("GET", "/chats", 400, **params)
            assert errors[0]["code"] == "validation_error"
            assert errors[0]["message"].split()[0] in params
        emu.configure(error_style="new")
        errors = await client.error("GET", "/chats", 400, order="up")
        assert errors == [
            {"code": "invalid_request", "message": "Invalid request"},
            {"code": "order", "message": "This value is not valid."},
        ]


async def test_one_chat_is_the_bare_object_and_an_unknown_one_404s_in_each_style() -> None:
    async with Emulator(customers=20, chats=10) as emu, api(emu) as client:
        chat_id = emu.expected_chat_ids()[4]
        assert await client.get(f"/chats/{chat_id}") == emu.chat(chat_id)
        old = await client.error("GET", f"/chats/{chat_id + 1}", 404)
        assert old == [{"code": "chat_not_found", "message": "Chat not found"}]
        assert await client.error("GET", "/chats/x/messages", 404) == old
        emu.configure(error_style="new")
        new = await client.error("GET", "/chats/123", 404)
        assert [e["code"] for e in new] == ["invalid_request", "not_found"]
        unauthorised = await client.error("GET", "/chats", 401, key="wrong")
        assert [e["code"] for e in unauthorised] == ["invalid_request", "unauthorized"]


async def test_chats_are_coherent_with_their_messages_agents_and_departments() -> None:
    async with (
        Emulator(customers=40, chats=120, seed=7, account=Account(agents=6, departments=3)) as emu,
        api(emu) as client,
    ):
        agents = {a["id"]: a for a in (await client.get("/agents"))["data"]}
        departments = {d["id"]: d for d in (await client.get("/departments"))["data"]}
        customers = {c["id"]: c for c in emu.truth_customers()}
        statuses = set()
        for chat in await every_page(client, "/chats", 100):
            assert set(chat) == CHAT_KEYS
            statuses.add(chat["status"])
            messages = await every_page(client, f"/chats/{chat['id']}/messages", 100)
            assert messages == emu.truth_messages(chat["id"])
            times = [m["createdAt"] for m in messages]
            assert times == sorted(times, reverse=True), "newest first"
            assert all(set(m) == MESSAGE_KEYS and m["chat"] == chat["id"] for m in messages)
            assert all(t >= chat["createdAt"] for t in times)
            customer = customers[chat["customer"]["id"]]
            assert chat["customer"] == {k: customer[k] for k in ("id", "name", "email", "userId")}
            if not messages:
                assert chat["status"] == "empty"
                assert chat["lastMessageAt"] is None
                continue
            assert chat["lastMessageAt"] == times[0]
            assert chat["lastMessageId"] == messages[0]["id"]
            assert chat["lastMessageText"] == messages[0]["text"]
            from_customer = [m["createdAt"] for m in messages if m["from"] == "customer"]
            assert chat["lastCustomerMessageAt"] == (from_customer[0] if from_customer else None)
            wrote = {m["agent"]["id"] for m in messages if m["agent"] is not None}
            assert {a["id"] for a in chat["agents"]} == wrote
            assert all(agents[a["id"]] == a for a in chat["agents"])
            assert all(
                m["agent"] is None or agents[m["agent"]["id"]] == m["agent"] for m in messages
            )
            if chat["status"] == "closed":
                assert chat["closedAt"] >= chat["lastMessageAt"]
                assert chat["closedBy"] in ("agent", "customer")
            else:
                assert chat["closedAt"] is None
                assert chat["rating"] is None
            if chat["assignee"] is not None:
                assert agents[chat["assignee"]["id"]] == chat["assignee"]
            if chat["department"] is not None:
                department = departments[chat["department"]["id"]]
                assert chat["department"] == {"id": department["id"], "name": department["name"]}
        assert {"closed", "empty"} <= statuses
        assert statuses <= {
            "new",
            "opened",
            "pending",
            "on hold",
            "no communication",
            "closed",
            "empty",
        }


async def test_messages_page_newest_first_with_a_top_level_total_or_the_old_key() -> None:
    async with Emulator(customers=20, chats=300, seed=1) as emu, api(emu) as client:
        chat_id = max(emu.expected_chat_ids(), key=emu.message_count)
        count = emu.message_count(chat_id)
        assert count > 100
        first = await client.get(f"/chats/{chat_id}/messages")
        assert first["total"] == count
        assert len(first["data"]) == 100, "default limit 100"
        assert set(first) == {"data", "total"}
        pages = await every_page(client, f"/chats/{chat_id}/messages", 30)
        assert pages == emu.truth_messages(chat_id)
        assert len({m["id"] for m in pages}) == count
        await client.error("GET", f"/chats/{chat_id}/messages", 400, limit=101)
        emu.configure(messages_key="messages")
        old = await client.get(f"/chats/{chat_id}/messages", offset=5, limit=3)
        assert set(old) == {"messages", "total"}
        assert old["messages"] == pages[5:8]


def test_message_counts_are_heavy_tailed() -> None:
    emu = Emulator(customers=10, chats=5000)
    counts = [emu.message_count(chat_id) for chat_id in emu.expected_chat_ids()]
    assert 0.01 < counts.count(0) / len(counts) < 0.06
    assert 3 <= statistics.median(counts) <= 30
    assert sum(1 <= c <= 30 for c in counts) / len(counts) > 0.7
    assert max(counts) >= 200
    assert 12 <= statistics.mean(counts) <= 30


@pytest.mark.parametrize("path", ["/agents", "/departments"])
async def test_agents_and_departments_page_with_meta_total_or_none(path: str) -> None:
    async with (
        Emulator(customers=5, account=Account(agents=23, departments=12)) as emu,
        api(emu) as client,
    ):
        truth = emu.truth_agents() if path == "/agents" else emu.truth_departments()
        assert len(truth) == (23 if path == "/agents" else 12)
        page = await client.get(path, offset=2, limit=5)
        assert page == {"data": truth[2:7], "meta": {"total": len(truth)}}
        assert await every_page(client, path, 4) == truth
        await client.error("GET", path, 400, limit=101)
        emu.configure(list_total="none")
        assert await client.get(path, limit=3) == {"data": truth[:3]}
    if path == "/departments":
        agent_ids = {a["id"] for a in emu.truth_agents()}
        assert all(a["id"] in agent_ids for d in truth for a in d["agents"])
        assert any(d["agents"] for d in truth)


async def fetch_all(emu: Emulator) -> list[bytes]:
    async with api(emu) as client:
        bodies = [
            (await client.raw("GET", "/chats", sort="chats.lastMessageAt", limit=50))[1],
            (await client.raw("GET", "/agents"))[1],
            (await client.raw("GET", "/departments"))[1],
        ]
        bodies += [
            (await client.raw("GET", f"/chats/{chat_id}/messages"))[1]
            for chat_id in emu.expected_chat_ids()[:5]
        ]
        return bodies


async def test_same_seed_and_sizes_same_bytes_other_seed_other_bytes() -> None:
    async with Emulator(customers=30, chats=60, seed=5) as one:
        first = await fetch_all(one)
    async with Emulator(customers=30, chats=60, seed=5) as two:
        assert await fetch_all(two) == first
    async with Emulator(customers=30, chats=60, seed=6) as other:
        assert (await fetch_all(other))[0] != first[0]


async def test_drift_adds_chats_and_messages_closes_and_reassigns() -> None:
    async with (
        Emulator(customers=30, chats=40, account=Account(agents=4)) as emu,
        api(emu) as client,
    ):
        before = {c["id"]: c for c in emu.truth_chats()}
        newest_before = max(
            max(c["lastMessageAt"] or 0, c["closedAt"] or 0) for c in before.values()
        )
        added = emu.add_chats(2)
        assert min(added) > max(before)
        listing = await client.get("/chats", sort="chats.createdAt", order="desc", limit=2)
        assert listing["meta"]["total"] == 42
        assert sorted(c["id"] for c in listing["data"]) == added
        assert all(c["createdAt"] > newest_before for c in listing["data"])

        open_id = next(i for i, c in before.items() if c["status"] != "closed")
        count = emu.message_count(open_id)
        message_ids = emu.add_messages(open_id, 3, sender="agent")
        page = await client.get(f"/chats/{open_id}/messages", limit=3)
        assert page["total"] == count + 3
        assert [m["id"] for m in page["data"]] == message_ids[::-1]
        chat = await client.get(f"/chats/{open_id}")
        assert chat["lastMessageAt"] == page["data"][0]["createdAt"] > newest_before
        assert chat["lastMessageId"] == message_ids[-1]

        emu.close_chat(open_id)
        closed = await client.get("/chats", sort="chats.closedAt", order="desc", limit=1)
        assert closed["data"][0]["id"] == open_id
        assert closed["data"][0]["status"] == "closed"
        assert closed["data"][0]["closedAt"] > chat["lastMessageAt"]

        agent = emu.truth_agents()[-1]
        emu.reassign_chat(open_id, agent["id"])
        assert (await client.get(f"/chats/{open_id}"))["assignee"] == agent
        assert emu.chat_updated_at(open_id) > closed["data"][0]["closedAt"]

        assert emu.delete_chats([open_id, 1]) == [open_id]
        await client.error("GET", f"/chats/{open_id}", 404)
        await client.error("GET", f"/chats/{open_id}/messages", 404)
        assert (await client.get("/chats", limit=1))["meta"]["total"] == 41


async def test_a_drift_event_changes_chats_and_customers_after_its_request() -> None:
    change = Drift(after_request=1, visits=3, add_chats=2, add_messages=4, close_chats=2)
    async with (
        Emulator(customers=30, chats=40, drift=[change], seed=2) as emu,
        api(emu) as client,
    ):
        before = emu.truth_chats()
        last_seen_before = max(c["lastSeen"] or 0 for c in emu.truth_customers())
        await client.get("/agents")
        after = emu.truth_chats()
        assert len(after) == len(before) + 2
        changed = [c for c in after[: len(before)] if c not in before]
        assert 1 <= len(changed) <= 6
        visited = [c for c in emu.truth_customers() if (c["lastSeen"] or 0) > last_seen_before]
        assert len(visited) == 3


def test_a_100000_chat_account_costs_little_memory_to_build_and_to_read_a_page() -> None:
    # The fragment pools are built and decoded once per seed and cached: do it first.
    Emulator(customers=1000, chats=10).chats.chat_json(0)
    tracemalloc.start()
    try:
        emu = Emulator(customers=1000, chats=100_000)
        chats = emu.chats
        for index in range(0, 100_000, 997):
            chats.messages_json(index, 0, 100)
        bodies = [chats.chat_json(i) for i in chats.page(None, 99_900, 100, descending=False)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(bodies) == 100
    assert peak < 1_000_000, f"peak {peak} bytes: per-chat or per-message storage crept in"
