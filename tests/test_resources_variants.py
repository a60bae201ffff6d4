"""Every documented response variant, served on loopback from the reference docs' examples."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web

import helpcrunch_async as hc

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

KEY = "test-key"

# chats.md, new style (numeric strings); the old style (integers, "on hold",
# `agents` a single object, a snooze time with a fraction, `notes`).
NEW_CHAT: dict[str, Any] = {
    "id": 7340012, "closedBy": None, "lastCustomerMessageAt": "1700000100", "status": "pending",
    "closedAt": None, "rating": None, "createdAt": "1700000000", "lastMessageAt": "1700000200",
    "readByAgent": False, "readByCustomer": True, "createdWith": "customer_message",
    "snoozedUntil": None, "lastMessageText": "Any update?", "lastMessageId": 99120,
    "applicationId": 12, "lastCommunicatedAgentId": 501,
    "agents": [{"id": 501, "name": "Dana", "email": "dana@corp.test", "role": "agent"}],
    "customer": {"id": 880001, "name": "Ann", "email": "ann@example.org", "userId": "crm-77"},
    "assignee": {"id": 501, "name": "Dana", "email": "dana@corp.test", "role": "agent"},
    "department": {"id": 31, "name": "Billing"},
}  # fmt: skip
OLD_CHAT: dict[str, Any] = {
    "id": 1568834, "closedBy": "customer", "lastCustomerMessageAt": 1593108596, "status": "on hold",
    "notes": "VIP", "closedAt": None, "rating": "great", "createdAt": 1593100000,
    "lastMessageAt": 1593108700, "snoozedUntil": "1603864800.000", "lastMessageText": None,
    "lastMessageId": None, "lastCommunicatedAgentId": None,
    "agents": {"id": 7, "name": "Bo", "email": "bo@corp.test", "role": "superviser"},
    "customer": {"id": 42, "name": None, "email": None, "userId": None},
    "assignee": None, "department": None,
}  # fmt: skip


def message(i: int) -> dict[str, Any]:
    """A message of the old snapshot: milliseconds, an {id, name} agent."""
    return {
        "id": 1000 - i, "agent": {"id": 3, "name": "Kim"} if i % 2 else None,
        "type": "message", "text": f"m{i}", "read": True,
        "createdAt": f"{1594139170 - i}.913", "updatedAt": None, "edited": False,
        "broadcastType": None, "chat": 1568834, "from": "agent" if i % 2 else "customer",
    }  # fmt: skip


MESSAGES = [message(i) for i in range(230)]
AGENTS = [
    {"id": 500 + i, "name": f"A{i}", "email": f"a{i}@corp.test", "role": "agent"} for i in range(3)
]


async def serve(request: web.Request, log: list[Any]) -> web.Response:
    path = request.path
    offset = int(request.query.get("offset", "0"))
    limit = int(request.query.get("limit", "100"))
    body: Any
    if path == "/v1/chats/7340012":
        body = NEW_CHAT
    elif path == "/v1/chats":
        body = {"data": [NEW_CHAT, OLD_CHAT][offset : offset + limit], "meta": {"total": 2}}
    elif path == "/v1/chats/search":
        sent = await request.json()
        body = {
            "data": [OLD_CHAT][sent["offset"] : sent["offset"] + sent["limit"]],
            "meta": {"total": 1},
        }
    elif path == "/v1/chats/1568834/messages":
        # The old snapshot: the list under `messages`, and no total.
        body = {"messages": MESSAGES[offset : offset + limit]}
    elif path == "/v1/agents":
        body = {"data": AGENTS[offset : offset + limit]}  # old: no meta at all
    elif path == "/v1/departments":
        body = {"data": [{"id": 31, "name": "Billing", "agents": AGENTS}][offset : offset + limit]}
    else:
        return web.json_response(
            {"errors": [{"code": "not_found", "message": "Not found"}]}, status=404
        )
    log.append((request.method, path, offset, limit))
    return web.json_response(body)


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[Any]]]:
    log: list[Any] = []

    async def handler(request: web.Request) -> web.Response:
        return await serve(request, log)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/v1", log
    finally:
        await runner.cleanup()


async def test_every_chat_variant_reads_as_one_shape(server: tuple[str, list[Any]]) -> None:
    url, _ = server
    async with hc.HelpCrunch(KEY, base_url=url) as client:
        new = await client.chats.get(7340012)
        chats = [c async for c in client.chats.iter_all()]
        found = await client.chats.search([hc.Filter("chats.status", "=", "4")])
    assert chats[0] == new
    old = chats[1]
    assert (new.created_at, old.created_at) == (1700000000, 1593100000)
    assert old.status == "onhold"
    assert old.snoozed_until == 1603864800
    assert old.agents == [hc.Agent(id=7, name="Bo", email="bo@corp.test", role="superviser")]
    assert old.notes == "VIP"
    assert old.read_by_agent is None
    assert found.total == 1
    assert found.data == [old]


async def test_old_messages_page_is_read_to_its_short_end(server: tuple[str, list[Any]]) -> None:
    url, log = server
    async with hc.HelpCrunch(KEY, base_url=url) as client:
        page = await client.chats.messages(1568834, limit=3)
        async with client.chats.iter_messages(1568834) as scan:
            messages = [m async for m in scan]
    assert page.total is None
    assert [m.id for m in page.data] == [1000, 999, 998]
    assert [m.id for m in messages] == [m["id"] for m in MESSAGES]
    assert messages[1].agent == hc.Agent(id=3, name="Kim")
    assert messages[1].from_ == "agent"
    assert messages[0].created_at == 1594139170
    assert scan.stats.total_at_start is None
    # The short last page's end is confirmed by the rest of its window (empty).
    assert [entry[2] for entry in log[1:]] == [0, 100, 200, len(MESSAGES)]


async def test_old_team_pages_without_any_count(server: tuple[str, list[Any]]) -> None:
    url, log = server
    async with hc.HelpCrunch(KEY, base_url=url) as client:
        agents = [a async for a in client.agents.iter_all()]
        page = await client.departments.list()
    assert [a.id for a in agents] == [500, 501, 502]
    assert page.total is None
    assert page.data[0].agents == agents
    # The short first page ends the scan once the rest of its window comes
    # back empty (a page cap looks the same).
    assert [(path, offset) for _, path, offset, _ in log] == [
        ("/v1/agents", 0),
        ("/v1/agents", 3),
        ("/v1/departments", 0),
    ]
