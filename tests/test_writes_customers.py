"""client.customers' writes over loopback against the emulator: every method, every reading."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import Emulator
from helpcrunch_async.testing._written import Readings

KEY = "test-key"
pytestmark = pytest.mark.timeout(60)


def client_for(emu: Emulator, **kwargs: Any) -> hc.HelpCrunch:
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("max_backoff", 0.05)
    return hc.HelpCrunch(KEY, base_url=emu.base_url, **kwargs)


def data_of(customer: hc.Customer) -> dict[str, Any]:
    return {item.property: item.value for item in customer.custom_data}


async def test_create_returns_the_record_and_every_read_sees_it() -> None:
    async with Emulator(customers=30, api_key=KEY) as emu, client_for(emu) as client:
        ann = await client.customers.create(
            name="Ann",
            email="ann@example.org",
            user_id="crm-77",
            company="Acme",
            phone="+1 555",
            tags=["Lead", "Fresh"],
            custom_data={"Plan": "Pro", "Seats": 5, "Paying": True, "Mrr": 49.5, "Gone": None},
        )
        assert ann.user_id == "crm-77"
        assert [(t.name, t.color) for t in ann.tags] == [("Lead", "#eb5a46"), ("Fresh", "#c377e0")]
        assert data_of(ann) == {
            "Plan": "Pro",
            "Seats": 5,
            "Paying": True,
            "Mrr": 49.5,
            "Gone": None,
        }
        assert await client.customers.get(ann.id) == ann
        async with client.customers.iter_all() as scan:
            assert ann in [c async for c in scan]
        found = await client.customers.search(
            [hc.Filter("customers.email", "=", "ann@example.org")]
        )
        assert found.data == [ann]
        assert emu.log[0].body is not None
        assert '"customData":[{"property":"Plan","value":"Pro"}' in emu.log[0].body


async def test_update_merges_and_replace_nulls_the_rest() -> None:
    async with Emulator(customers=30, api_key=KEY) as emu, client_for(emu) as client:
        ann = await client.customers.create(name="Ann", user_id="u1", custom_data={"Plan": "Pro"})
        updated = await client.customers.update(ann.id, company="Acme", custom_data={"Seats": 5})
        assert (updated.name, updated.company) == ("Ann", "Acme")
        assert data_of(updated) == {"Plan": "Pro", "Seats": 5}
        cleared = await client.customers.update(ann.id, company=None)
        assert cleared.company is None
        assert cleared.name == "Ann"
        replaced = await client.customers.replace(ann.id, notes="only")
        assert replaced.notes == "only"
        assert replaced.name is replaced.user_id is None
        assert replaced.custom_data == []
        assert [e.method for e in emu.log] == ["POST", "GET", "PATCH", "PATCH", "PUT"]


async def test_update_many_answers_each_item_in_order_in_chunks_of_ten() -> None:
    async with Emulator(customers=40, api_key=KEY) as emu, client_for(emu) as client:
        ids = emu.expected_ids()[:23]
        items: list[dict[str, Any]] = [{"id": i, "notes": f"note {i}"} for i in ids]
        items.insert(5, {"id": 99, "notes": "nobody"})
        results = await client.customers.update_many(items)
        assert [r.id for r in results] == [item["id"] for item in items]
        assert [r.status for r in results].count("updated") == 23
        assert results[5].status == "not_found"
        assert results[5].customer is None
        for result in results:
            if result.status == "updated":
                assert result.customer is not None
                assert result.customer.notes == f"note {result.id}"
                assert emu.customer(result.id)["notes"] == f"note {result.id}"  # type: ignore[index]
        batches = [e for e in emu.log if e.path == "/v1/customers/batch"]
        assert len(batches) == 3  # 24 items: 10, 10, 4


async def test_update_many_reports_a_refused_item_with_the_server_s_reason() -> None:
    async with Emulator(customers=30, api_key=KEY) as emu, client_for(emu) as client:
        one = await client.customers.create(user_id="taken")
        other = emu.expected_ids()[0]
        results = await client.customers.update_many(
            [{"id": other, "user_id": "taken"}, {"id": one.id, "notes": "fine"}]
        )
        assert results[0].status == "refused"
        assert results[0].errors[0].code == "invalid_userId_value"
        assert results[1].status == "updated"


async def test_upsert_creates_then_merges_and_refuses_a_key_naming_several() -> None:
    async with Emulator(customers=30, api_key=KEY) as emu, client_for(emu) as client:
        made = await client.customers.upsert(user_id="crm-1", name="Ann", custom_data={"a": 1})
        again = await client.customers.upsert(user_id="crm-1", notes="hi", custom_data={"b": 2})
        assert again.id == made.id
        assert (again.name, again.notes) == ("Ann", "hi")
        assert data_of(again) == {"a": 1, "b": 2}
        by_email = await client.customers.upsert(email="bob@example.org", name="Bob")
        assert by_email.email == "bob@example.org"
        assert emu.total == 32
        await client.customers.create(email="twice@example.org")
        await client.customers.create(email="twice@example.org")
        emu.reset_log()
        with pytest.raises(hc.InvalidParameterError, match="matches 2 customers"):
            await client.customers.upsert(email="twice@example.org", name="X")
        assert [e.method for e in emu.log] == ["POST"]  # the search only


async def test_upsert_that_meets_a_duplicate_user_id_finds_and_patches() -> None:
    async with Emulator(customers=30, api_key=KEY) as emu, client_for(emu) as client:
        # Two upserts of one new key at once: both searches find nothing, both
        # create, the server refuses the second create as a duplicate userId.
        first, second = await asyncio.gather(
            client.customers.upsert(user_id="late", name="Theirs"),
            client.customers.upsert(user_id="late", notes="ours"),
        )
        assert first.id == second.id
        assert emu.total == 31
        assert (emu.customer(first.id) or {})["notes"] == "ours"
        statuses = [(e.method, e.path, e.status) for e in emu.log]
        assert statuses.count(("POST", "/v1/customers", 400)) == 1
        assert statuses.count(("POST", "/v1/customers", 200)) == 1


async def test_tag_untag_delete_and_add_event() -> None:
    async with Emulator(customers=30, api_key=KEY) as emu, client_for(emu) as client:
        ann = await client.customers.create(user_id="u", tags=["Lead"])
        tagged = await client.customers.tag(ann.id, ["Paid", "Brand new"])
        assert [t.name for t in tagged.tags] == ["Lead", "Paid", "Brand new"]
        assert tagged.tags[2].color == "#c377e0"
        untagged = await client.customers.untag(ann.id, ["Lead"])
        assert [t.name for t in untagged.tags] == ["Paid", "Brand new"]
        event = await client.customers.add_event(ann.id, "Upgraded", data={"plan": "Pro"})
        assert (event.customer, event.name, event.data) == (ann.id, "Upgraded", {"plan": "Pro"})
        await client.customers.delete(ann.id)
        assert emu.customer(ann.id) is None
        with pytest.raises(hc.NotFoundError):
            await client.customers.delete(ann.id)


READINGS = [
    Readings(batch_items=b, custom_data=c, update_tags=t)
    for b, c, t in itertools.product(("merge", "replace"), ("merge", "replace"), ("add", "replace"))
]


async def script(client: hc.HelpCrunch, base: list[int]) -> list[int]:
    """Every write method our client has, in one order; return the ids it touched."""
    a = await client.customers.create(name="Ann", user_id="a", tags=["Lead"], custom_data={"x": 1})
    await client.customers.update(a.id, custom_data={"y": 2}, company="Acme")
    await client.customers.update_many(
        [{"id": base[0], "custom_data": {"z": 3}}, {"id": a.id, "notes": "n"}, {"id": base[1]}]
    )
    await client.customers.upsert(user_id="a", phone="+1", custom_data={"x": 5})
    await client.customers.tag(a.id, ["Paid"])
    await client.customers.untag(base[1], ["Lead"])
    b = await client.customers.upsert(email="b@example.org", name="Bob", tags=["Lead"])
    return [a.id, b.id, *base[:2]]


@pytest.mark.parametrize(
    "readings", READINGS, ids=lambda r: f"{r.batch_items}-{r.custom_data}-{r.update_tags}"
)
async def test_our_methods_leave_the_same_account_under_every_reading(readings: Readings) -> None:
    async def run(with_readings: Readings) -> list[dict[str, Any] | None]:
        async with (
            Emulator(customers=20, seed=4, api_key=KEY, readings=with_readings) as emu,
            client_for(emu) as client,
        ):
            ids = await script(client, emu.expected_ids())
            return [emu.customer(i) for i in ids]

    assert await run(readings) == await run(Readings())


BAD_CALLS: list[tuple[str, Any]] = [
    ("create custom_data", lambda c: c.customers.create(custom_data={"a": [1]})),
    ("create tags str", lambda c: c.customers.create(tags="Lead")),
    ("create unknown", lambda c: c.customers.create(nickname="x")),
    ("update id", lambda c: c.customers.update(0, name="x")),
    ("update tags", lambda c: c.customers.update(1, tags=["x"])),
    ("replace name", lambda c: c.customers.replace(1, name=5)),
    ("update_many id", lambda c: c.customers.update_many([{"id": "1"}])),
    ("update_many str", lambda c: c.customers.update_many("x")),
    ("update_many late", lambda c: c.customers.update_many([{"id": 1}] * 15 + [{"id": 2, "x": 1}])),
    ("upsert no key", lambda c: c.customers.upsert(name="x")),
    ("tag none", lambda c: c.customers.tag(1, [])),
    ("untag int", lambda c: c.customers.untag(1, [5])),
    ("delete id", lambda c: c.customers.delete(-1)),
    ("event data", lambda c: c.customers.add_event(1, "x", data={"a": {}})),
    ("event name", lambda c: c.customers.add_event(1, "")),
]


@pytest.mark.parametrize(("what", "call"), BAD_CALLS, ids=[w for w, _ in BAD_CALLS])
async def test_bad_arguments_are_refused_before_any_request(what: str, call: Any) -> None:
    async with Emulator(customers=5, api_key=KEY) as emu, client_for(emu) as client:
        with pytest.raises(hc.InvalidParameterError):
            await call(client)
        assert emu.log == [], what


async def test_a_chunk_the_server_refuses_whole_is_refused_item_by_item() -> None:
    async with Emulator(customers=30, api_key=KEY) as emu, client_for(emu, concurrency=1) as client:
        ids = emu.expected_ids()[:12]
        # Requests: search, batch (refused), search, batch; one chunk at a time.
        emu.configure(fail={2: "400"})
        results = await client.customers.update_many([{"id": i, "notes": "x"} for i in ids])
        assert [r.status for r in results] == ["refused"] * 10 + ["updated"] * 2
        assert results[0].errors[0].code == "validation_error"
        assert all((emu.customer(i) or {})["notes"] != "x" for i in ids[:10])


async def test_a_written_customer_stays_written_when_it_visits_and_in_its_chats() -> None:
    async with Emulator(customers=5, chats=30, api_key=KEY) as emu, client_for(emu) as client:
        chat = await client.chats.get(emu.expected_chat_ids()[0])
        assert chat.customer is not None
        renamed = await client.customers.update(chat.customer.id, name="Renamed", email="r@x.org")
        emu.visit([renamed.id])
        assert (emu.customer(renamed.id) or {})["name"] == "Renamed"
        again = await client.chats.get(chat.id)
        assert again.customer is not None
        assert (again.customer.name, again.customer.email) == ("Renamed", "r@x.org")


async def test_update_many_raises_a_chunk_s_other_failure_once_every_chunk_is_done() -> None:
    async with Emulator(customers=30, api_key=KEY) as emu, client_for(emu, concurrency=1) as client:
        ids = emu.expected_ids()[:12]
        emu.configure(fail={2: "401"})
        with pytest.raises(hc.AuthenticationError):
            await client.customers.update_many([{"id": i, "notes": "y"} for i in ids])
        assert [(emu.customer(i) or {})["notes"] for i in ids[10:]] == ["y", "y"]


async def test_lookup_shares_one_search_among_many_keys() -> None:
    async with Emulator(customers=60, api_key=KEY) as emu, client_for(emu) as client:
        made = [
            await client.customers.create(user_id=f"k-{n}", email=f"K{n}@x.org") for n in range(45)
        ]
        emu.reset_log()
        keys = [f"k-{n}" for n in range(45)] + ["nobody"]
        found = await client.customers.lookup("user_id", keys, per_search=20)
        assert [e.path for e in emu.log] == ["/v1/customers/search"] * 3  # 46 keys, 20 a search
        assert [[c.id for c in found[f"k-{n}"]] for n in range(45)] == [[c.id] for c in made]
        assert found["nobody"] == []
        by_email = await client.customers.lookup("email", ["K3@x.org"])
        assert [c.id for c in by_email["K3@x.org"]] == [made[3].id]
        by_id = await client.customers.lookup("id", [made[0].id, 5])
        assert (len(by_id[made[0].id]), by_id[5]) == (1, [])
        emu.reset_log()
        bad_calls: list[Any] = [
            lambda: client.customers.lookup("user_id", [""]),
            lambda: client.customers.lookup("id", ["1"]),
            lambda: client.customers.lookup("name", ["x"]),  # type: ignore[arg-type]
            lambda: client.customers.lookup("email", "a@x.org"),
        ]
        for bad in bad_calls:
            with pytest.raises(hc.InvalidParameterError):
                await bad()
        assert emu.log == []
