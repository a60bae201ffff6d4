"""The emulator's writes over loopback: state, the docs' rules, the readings, the write faults."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest

from helpcrunch_async.testing import Emulator
from helpcrunch_async.testing._write_faults import WriteDice, WriteFaults
from helpcrunch_async.testing._written import Readings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

pytestmark = pytest.mark.timeout(30)


class Http:
    """Raw requests to one emulator with its key."""

    def __init__(self, session: aiohttp.ClientSession, emu: Emulator) -> None:
        self.session = session
        self.emu = emu

    async def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.emu.api_key}"}
        async with self.session.request(
            method, self.emu.base_url + path, json=body, headers=headers
        ) as reply:
            raw = await reply.read()
            return reply.status, msgspec.json.decode(raw) if raw else None


@contextlib.asynccontextmanager
async def http(**kwargs: Any) -> AsyncIterator[Http]:
    kwargs.setdefault("customers", 40)
    kwargs.setdefault("chats", 5)
    async with (
        Emulator(**kwargs) as emu,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
    ):
        yield Http(session, emu)


ANN = {
    "name": "Ann",
    "email": "ann@example.org",
    "userId": "crm-77",
    "tags": [{"name": "Lead"}, {"name": "Brand new"}],
    "customData": [{"property": "Plan", "value": "Pro"}, {"property": "Seats", "value": 5}],
}


async def test_a_created_customer_is_visible_to_get_list_search_and_the_log() -> None:
    async with http() as call:
        status, ann = await call("POST", "/customers", ANN)
        assert status == 200
        assert ann["tags"] == [
            {"name": "Lead", "color": "#eb5a46"},
            {"name": "Brand new", "color": "#c377e0"},  # created, the default colour
        ]
        assert (await call("GET", f"/customers/{ann['id']}")) == (200, ann)
        _, page = await call("GET", "/customers?limit=100")
        assert ann in page["data"]
        assert page["total"] == 41
        where = {"filter": [{"field": "customers.userId", "operator": "=", "value": "crm-77"}]}
        _, found = await call("POST", "/customers/search", where)
        assert found["data"] == [ann]
        tagged = {"filter": [{"field": "customers.tagsData", "operator": "=", "value": ["Lead"]}]}
        _, with_tag = await call("POST", "/customers/search", tagged)
        assert ann in with_tag["data"]
        assert call.emu.log[0].method == "POST"
        assert call.emu.log[0].path == "/v1/customers"


async def test_a_duplicate_user_id_is_400_invalid_user_id_value() -> None:
    async with http() as call:
        await call("POST", "/customers", ANN)
        status, body = await call("POST", "/customers", {"userId": "crm-77"})
        assert status == 400
        assert body["errors"][0]["code"] == "invalid_userId_value"
        assert call.emu.total == 41


async def test_patch_merges_and_put_replaces() -> None:
    async with http() as call:
        _, ann = await call("POST", "/customers", ANN)
        path = f"/customers/{ann['id']}"
        _, patched = await call("PATCH", path, {"company": "Acme", "customData": []})
        assert patched["name"] == "Ann"
        assert patched["company"] == "Acme"
        assert patched["customData"] == ANN["customData"]  # merged property by property
        _, replaced = await call("PUT", path, {"notes": "only this"})
        assert replaced["notes"] == "only this"
        assert replaced["name"] is replaced["email"] is replaced["userId"] is None
        assert replaced["tags"] == replaced["customData"] == []


async def test_each_reading_the_docs_leave_open_is_a_setting() -> None:
    readings = Readings(batch_items="replace", custom_data="replace", update_tags="add")
    async with http(readings=readings) as call:
        _, ann = await call("POST", "/customers", ANN)
        path = f"/customers/{ann['id']}"
        patch = {"customData": [{"property": "Seats", "value": 6}], "tags": [{"name": "Paid"}]}
        _, patched = await call("PATCH", path, patch)
        assert patched["customData"] == [{"property": "Seats", "value": 6}]
        assert [t["name"] for t in patched["tags"]] == ["Lead", "Brand new", "Paid"]
        status, batch = await call("PUT", "/customers/batch", [{"id": ann["id"], "notes": "n"}])
        assert status == 200
        assert batch["data"][0]["name"] is None  # the item replaced the customer


async def test_a_batch_answers_each_item_in_place_and_refuses_more_than_ten() -> None:
    async with http() as call:
        _, ann = await call("POST", "/customers", ANN)
        items = [{"id": ann["id"], "notes": "n"}, {"id": 1, "notes": "gone"}]
        status, body = await call("PUT", "/customers/batch", items)
        assert status == 200
        assert body["data"][0]["notes"] == "n"
        assert body["data"][0]["name"] == "Ann"  # merged (the default reading)
        assert body["data"][1]["id"] == 1
        assert body["data"][1]["errors"][0]["code"] == "entity_not_found"
        status, body = await call("PUT", "/customers/batch", [{"id": ann["id"]}] * 11)
        assert status == 400


async def test_tags_delete_and_events() -> None:
    async with http() as call:
        _, ann = await call("POST", "/customers", ANN)
        path = f"/customers/{ann['id']}"
        _, tagged = await call("PUT", f"{path}/tags", {"tags": [{"name": "Paid"}]})
        assert [t["name"] for t in tagged["tags"]] == ["Lead", "Brand new", "Paid"]
        _, untagged = await call("DELETE", f"{path}/tags", {"tags": [{"name": "Lead"}]})
        assert [t["name"] for t in untagged["tags"]] == ["Brand new", "Paid"]
        status, event = await call("POST", "/events", {"customer": ann["id"], "name": "Up"})
        assert status == 200
        assert event["name"] == "Up"
        assert call.emu.writes.events == [event]
        assert (await call("DELETE", path))[0] == 200
        assert (await call("GET", path))[0] == 404
        assert (await call("DELETE", path))[0] == 404


@pytest.mark.parametrize("created", [201, 200])
async def test_chats_open_update_and_take_messages(created: int) -> None:
    async with http(readings=Readings(chat_created=created), clock=lambda: 1_900_000_000.4) as call:
        customer = call.emu.expected_ids()[0]
        status, chat = await call("POST", "/chats", {"customer": customer, "application": 2})
        assert status == created
        assert chat["status"] == "empty"
        assert chat["createdAt"] == 1_900_000_000
        chat_id = chat["id"]
        assert (await call("GET", f"/chats/{chat_id}"))[1] == chat
        rate = {"id": chat_id, "rating": "great"}
        assert (await call("PUT", "/chats/rate", rate))[0] == 400  # not closed, no agent message
        body = {"chat": chat_id, "text": "Hello", "agent": 501, "type": "message"}
        status, message = await call("POST", "/messages", body)
        assert status == 200
        assert (message["text"], message["from"], message["agent"]["id"]) == ("Hello", "agent", 501)
        _, page = await call("GET", f"/chats/{chat_id}/messages")
        assert page["data"] == [message]
        for spelling, stored in (("on-hold", "on hold"), ("open", "opened"), ("closed", "closed")):
            _, updated = await call("PUT", "/chats/status", {"id": chat_id, "status": spelling})
            assert updated["status"] == stored
        assert (await call("PUT", "/chats/status", {"id": chat_id, "status": "done"}))[0] == 400
        _, rated = await call("PUT", "/chats/rate", {"id": chat_id, "rating": "great"})
        assert rated["rating"] == "great"
        _, assigned = await call("PUT", "/chats/assignee", {"id": chat_id, "assignee": 501})
        assert assigned["assignee"]["id"] == 501
        _, unassigned = await call("PUT", "/chats/assignee", {"id": chat_id, "assignee": None})
        assert unassigned["assignee"] is None
        _, snoozed = await call(
            "PUT", "/chats/snooze", {"id": chat_id, "snoozedUntil": "1900009999"}
        )
        assert snoozed["snoozedUntil"] == 1_900_009_999
        _, read = await call("PUT", "/chats/readByCustomer", {"id": chat_id, "read": True})
        assert read["readByCustomer"] is True
        assert (await call("PUT", "/chats/status", {"id": 1, "status": "closed"}))[0] == 404


async def test_organization_and_applications() -> None:
    async with http() as call:
        _, org = await call("GET", "/organization")
        assert set(org["data"]) == {"id", "domain", "teamOnline", "chatEnabled"}
        _, apps = await call("GET", "/applications")
        assert [app["id"] for app in apps["data"]] == [2, 77]


@pytest.mark.parametrize("kind", ["drop", "500", "stall"])
async def test_a_write_fault_strikes_after_the_write_was_applied(kind: str) -> None:
    faults = WriteFaults(fail={2: kind}, stall=0.3)
    async with http(write_faults=faults) as call:
        await call("POST", "/customers", {"userId": "first"})
        failed: object = None
        timeout = aiohttp.ClientTimeout(total=0.1)
        headers = {"Authorization": f"Bearer {call.emu.api_key}"}
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with call.session.post(
                call.emu.base_url + "/customers",
                json={"userId": "second"},
                headers=headers,
                timeout=timeout,
            ) as reply:
                failed = reply.status
        assert failed == (500 if kind == "500" else None)
        where = {"filter": [{"field": "customers.userId", "operator": "=", "value": "second"}]}
        _, found = await call("POST", "/customers/search", where)
        assert found["total"] == 1  # applied all the same
        assert [e.fault for e in call.emu.log[:2]] == [None, f"applied-{kind}"]


async def test_refused_writes_are_not_counted_as_applied() -> None:
    async with http(write_faults=WriteFaults(fail={1: "500"})) as call:
        assert (await call("PATCH", "/customers/1", {"name": "x"}))[0] == 404
        assert (await call("POST", "/customers", {"name": "x"}))[0] == 500


def test_write_settings_are_checked() -> None:
    for bad in (
        Readings(batch_items="sometimes"),
        Readings(custom_data="x"),
        Readings(update_tags="x"),
        Readings(chat_created=202),
    ):
        with pytest.raises(ValueError, match="is"):
            bad.validate()
    for faults in (
        WriteFaults(fail={0: "drop"}),
        WriteFaults(fail={1: "explode"}),
        WriteFaults(drop_rate=0.7, error_rate=0.7),
        WriteFaults(stall=-1),
    ):
        with pytest.raises(ValueError, match=r"write fail|rates|stall"):
            faults.validate()


def test_write_fault_rates_strike_each_kind_from_a_seeded_stream() -> None:
    faults = WriteFaults(drop_rate=0.2, error_rate=0.2, stall_rate=0.2)
    first = [WriteDice(7).pick(faults, n) for n in range(1, 2)]
    dice = WriteDice(7)
    picks = [dice.pick(faults, n) for n in range(1, 2001)]
    assert picks[:1] == first
    for kind in ("drop", "500", "stall"):
        assert 300 < picks.count(kind) < 500
    assert 700 < picks.count(None) < 900
