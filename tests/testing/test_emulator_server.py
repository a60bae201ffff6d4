from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import aiohttp
import msgspec
import pytest
from emulator_wire import Wire, wire

from helpcrunch_async.testing import Emulator, LogEntry

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def client() -> AsyncIterator[Wire]:
    async with wire() as opened:
        yield opened


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(customers=1000, seed=1) as emu:
        yield emu


async def test_defaults_serve_the_first_hundred_by_id(emulator: Emulator, client: Wire) -> None:
    reply = await client.get(emulator)
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    page = reply.json()
    assert page["total"] == 1000
    assert [c["id"] for c in page["data"]] == emulator.expected_ids()[:100]


async def test_customers_are_sent_byte_for_byte(emulator: Emulator, client: Wire) -> None:
    reply = await client.get(emulator, limit=3, offset=10)
    parts = [emulator.customer_json(i) or b"" for i in emulator.expected_ids()[10:13]]
    assert reply.body == b'{"total":1000,"data":[' + b",".join(parts) + b"]}"


@pytest.mark.parametrize(
    ("offset", "limit", "count"),
    [(0, 1, 1), (0, 100, 100), (950, 100, 50), (999, 7, 1), (1000, 10, 0), (5000, 100, 0)],
)
async def test_offset_and_limit(
    emulator: Emulator, client: Wire, offset: int, limit: int, count: int
) -> None:
    page = (await client.get(emulator, offset=offset, limit=limit)).json()
    assert page["total"] == 1000
    assert [c["id"] for c in page["data"]] == emulator.expected_ids()[offset : offset + limit]
    assert len(page["data"]) == count


@pytest.mark.parametrize("sort", [None, "customers.firstSeen", "customers.lastSeen"])
@pytest.mark.parametrize("order", [None, "asc", "desc"])
async def test_a_scan_in_every_order_matches_expected_ids(
    emulator: Emulator, client: Wire, sort: str | None, order: str | None
) -> None:
    params = {k: v for k, v in {"sort": sort, "order": order}.items() if v is not None}
    seen = []
    for offset in range(0, 1000, 100):
        seen += await client.ids(emulator, offset=offset, **params)
    assert seen == emulator.expected_ids(sort, order or "asc")


@pytest.mark.parametrize(
    ("params", "messages"),
    [
        ({"limit": "0"}, ["limit value is invalid"]),
        ({"limit": "101"}, ["limit value is invalid"]),
        ({"limit": "ten"}, ["limit value is invalid"]),
        ({"limit": ""}, ["limit value is invalid"]),
        ({"limit": "-1"}, ["limit value is invalid"]),
        ({"offset": "-1"}, ["offset value is invalid"]),
        ({"offset": "1.5"}, ["offset value is invalid"]),
        ({"sort": "customers.name"}, ["sort value is invalid"]),
        ({"sort": ""}, ["sort value is invalid"]),
        ({"order": "up"}, ["order value is invalid"]),
        ({"order": "ASC"}, ["order value is invalid"]),
        (
            {"limit": "0", "offset": "x", "sort": "id", "order": "random"},
            [
                "limit value is invalid",
                "offset value is invalid",
                "sort value is invalid",
                "order value is invalid",
            ],
        ),
    ],
)
async def test_one_validation_error_per_bad_parameter(
    emulator: Emulator, client: Wire, params: dict[str, str], messages: list[str]
) -> None:
    reply = await client.get(emulator, **params)
    assert reply.status == 400
    assert reply.json() == {
        "errors": [{"code": "validation_error", "message": m} for m in messages]
    }


@pytest.mark.parametrize("key", [None, "wrong-key", "TEST-KEY"])
async def test_missing_or_wrong_key_is_401(client: Wire, key: str | None) -> None:
    async with Emulator(customers=10, api_key="test-key") as emu:
        reply = await client.get(emu, key=key)
    assert reply.status == 401
    (error,) = reply.json()["errors"]
    assert error["code"] == "invalid_token"


@pytest.mark.parametrize(("header", "status"), [("bearer {}", 200), ("Basic {}", 401), ("{}", 401)])
async def test_the_scheme_must_be_bearer_in_any_case(
    emulator: Emulator, client: Wire, header: str, status: int
) -> None:
    headers = {"Authorization": header.format(emulator.api_key)}
    url = emulator.base_url + "/customers"
    async with client.session.get(url, headers=headers) as response:
        assert response.status == status


async def test_a_single_customer_is_the_bare_object(emulator: Emulator, client: Wire) -> None:
    customer_id = emulator.expected_ids()[42]
    reply = await client.get(emulator, f"/customers/{customer_id}")
    assert reply.status == 200
    assert reply.body == emulator.customer_json(customer_id)
    assert reply.json() == emulator.customer(customer_id)


@pytest.mark.parametrize(
    "path", ["/customers/1", "/customers/abc", "/customers/-5", "/no-such-endpoint"]
)
async def test_absent_things_are_404_entity_not_found(
    emulator: Emulator, client: Wire, path: str
) -> None:
    reply = await client.get(emulator, path)
    assert reply.status == 404
    assert reply.json()["errors"][0]["code"] == "entity_not_found"


async def test_the_log_records_every_v1_request(emulator: Emulator, client: Wire) -> None:
    before = time.monotonic()
    await client.get(emulator, offset=5, limit=2)
    await client.get(emulator, key=None)
    await client.get(emulator, "/customers/1")
    await client.get(emulator, limit=0)
    after = time.monotonic()
    stats = (await client.admin(emulator, "stats")).json()
    log = emulator.log
    assert [(e.method, e.path, e.status, e.accepted) for e in log] == [
        ("GET", "/v1/customers", 200, True),
        ("GET", "/v1/customers", 401, True),
        ("GET", "/v1/customers/1", 404, True),
        ("GET", "/v1/customers", 400, True),
    ]
    assert log[0].query == "offset=5&limit=2"
    assert all(before <= e.time <= after for e in log)
    assert [e.time for e in log] == sorted(e.time for e in log)
    assert stats["requests"] == 4
    assert stats["statuses"] == {"200": 1, "401": 1, "404": 1, "400": 1}


async def test_the_admin_log_route_mirrors_the_log_and_resets(
    emulator: Emulator, client: Wire
) -> None:
    await client.get(emulator, limit=1)
    reply = await client.admin(emulator, "log")
    entries = msgspec.json.decode(reply.body, type=list[LogEntry])
    assert entries == emulator.log
    assert len(entries) == 1, "admin requests are not logged"
    assert (await client.admin(emulator, "reset-log", {})).status == 200
    assert emulator.log == []


async def test_admin_routes_configure_and_drift(emulator: Emulator, client: Wire) -> None:
    assert (await client.admin(emulator, "configure", {"error_rate": 1.0})).status == 200
    assert (await client.get(emulator)).status in {500, 502, 503}
    assert (await client.admin(emulator, "configure", {"bogus": 1})).status == 400
    assert (await client.admin(emulator, "configure", {"error_rate": 0})).status == 200
    drift = await client.admin(emulator, "drift", {"insert": 5, "delete": 2})
    assert drift.json()["total"] == 1003
    assert (await client.get(emulator)).json()["total"] == 1003


async def test_start_picks_a_port_and_stop_is_idempotent() -> None:
    emu = Emulator(customers=5)
    await emu.start()
    assert emu.port > 0
    assert emu.base_url == f"http://127.0.0.1:{emu.port}/v1"
    with pytest.raises(RuntimeError, match="already running"):
        await emu.start()
    await emu.stop()
    await emu.stop()


async def test_stop_is_prompt_while_a_request_sleeps(client: Wire) -> None:
    emu = Emulator(customers=5, latency=30.0)
    await emu.start()
    request = asyncio.ensure_future(client.get(emu))
    for _ in range(500):  # the request reaches the handler within milliseconds
        if emu.log:
            break
        await asyncio.sleep(0.01)
    # The handler sleeps 30 s: a stop that waited for it would end in this
    # bound's TimeoutError; the event asserted is the request cut, never answered.
    async with asyncio.timeout(10):
        await emu.stop()
    with pytest.raises(aiohttp.ClientError):
        await request


async def test_configure_rejects_unknown_and_invalid_settings(emulator: Emulator) -> None:
    with pytest.raises(TypeError, match="unknown"):
        emulator.configure(colour="blue")
    with pytest.raises(ValueError, match="rates"):
        emulator.configure(error_rate=0.8, drop_rate=0.8)
    assert emulator.faults.error_rate == 0.0
    with pytest.raises(ValueError, match="unknown rate policy"):
        emulator.configure(policy="leaky")
    assert emulator.policy_name == "none"


async def test_repeated_pages_are_identical_until_the_data_changes(client: Wire) -> None:
    async with Emulator(customers=300, page_cache=2) as emu:
        first = await client.get(emu, offset=100)
        for offset in (0, 200, 100):  # evicts and refills the two-page cache
            await client.get(emu, offset=offset)
        assert (await client.get(emu, offset=100)).body == first.body
        emu.delete(ids=[first.json()["data"][0]["id"]])
        after = (await client.get(emu, offset=100)).json()
    assert after["total"] == 299
    assert [c["id"] for c in after["data"]] == emu.expected_ids()[100:200]
