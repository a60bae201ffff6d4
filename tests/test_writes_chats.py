"""client.chats' writes, organization, applications and with_options over loopback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import Emulator, Faults
from helpcrunch_async.testing._written import Readings

KEY = "test-key"
pytestmark = pytest.mark.timeout(60)


def client_for(emu: Emulator, **kwargs: Any) -> hc.HelpCrunch:
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("max_backoff", 0.05)
    return hc.HelpCrunch(KEY, base_url=emu.base_url, **kwargs)


def bodies(emu: Emulator) -> list[dict[str, Any]]:
    return [msgspec.json.decode(e.body) for e in emu.log if e.body is not None]


@pytest.mark.parametrize("created", [201, 200])
async def test_a_chat_is_created_updated_and_rated(created: int) -> None:
    async with (
        Emulator(
            customers=10, chats=2, api_key=KEY, readings=Readings(chat_created=created)
        ) as emu,
        client_for(emu) as client,
    ):
        apps = await client.applications.list()
        customer = emu.expected_ids()[0]
        chat = await client.chats.create(customer=customer, application=apps[0].id)
        assert chat.status == "empty"
        assert chat.customer is not None
        assert chat.customer.id == customer
        assert await client.chats.get(chat.id) == chat
        message = await client.chats.send_message(chat.id, "Hello!", agent=501)
        assert (message.text, message.from_, message.type) == ("Hello!", "agent", "message")
        note = await client.chats.send_message(chat.id, "VIP", agent=501, private=True)
        assert note.type == "private"
        asked = await client.chats.send_message(chat.id, "Thanks")
        assert asked.from_ == "customer"
        page = await client.chats.messages(chat.id)
        assert [m.id for m in page.data] == [asked.id, note.id, message.id]
        assert (await client.chats.set_status(chat.id, "onhold")).status == "onhold"
        assert (await client.chats.assign(chat.id, 502)).assignee is not None
        assert (await client.chats.unassign(chat.id)).assignee is None
        department = emu.team.departments[0].id
        moved = await client.chats.set_department(chat.id, department)
        assert moved.department is not None
        assert moved.department.id == department
        assert (await client.chats.set_department(chat.id, None)).department is None
        until = datetime(2031, 5, 1, 12, tzinfo=UTC)
        assert (await client.chats.snooze(chat.id, until)).snoozed_until == int(until.timestamp())
        assert (await client.chats.snooze(chat.id, None)).snoozed_until is None
        assert (await client.chats.mark_read(chat.id, by="customer")).read_by_customer is True
        assert (await client.chats.mark_read(chat.id, by="agent")).read_by_agent is True
        with pytest.raises(hc.BadRequestError):
            await client.chats.rate(chat.id, "great")  # not closed yet
        assert (await client.chats.set_status(chat.id, "closed")).status == "closed"
        assert (await client.chats.rate(chat.id, "perfect")).rating == "perfect"
        sent = bodies(emu)
        # The chat id travels in the body; the status as the newest page spells it.
        assert {"id": chat.id, "status": "on hold"} in sent
        assert {"id": chat.id, "snoozedUntil": str(int(until.timestamp()))} in sent
        assert {"id": chat.id, "read": True} in sent


async def test_organization_and_applications() -> None:
    async with Emulator(customers=3, api_key=KEY) as emu, client_for(emu) as client:
        org = await client.organization.get()
        assert (org.id, org.team_online, org.chat_enabled) == (4242, True, True)
        apps = await client.applications.list()
        assert [(a.id, a.active) for a in apps] == [(2, True), (77, True)]
        assert [e.path for e in emu.log] == ["/v1/organization", "/v1/applications"]


async def test_with_options_shares_the_pool_and_the_cap_but_fails_fast() -> None:
    async with (
        Emulator(customers=3, api_key=KEY, faults=Faults(hang=5.0)) as emu,
        client_for(emu, rate_limit=50, rate_period=1.0, timeout=10.0) as client,
    ):
        fast = client.with_options(max_retries=0, timeout=0.2, max_rate_limit_wait=0)
        assert fast.budget is client.budget
        await client.organization.get()
        emu.configure(fail={2: "hang"})
        with pytest.raises(hc.RequestTimeoutError):
            await fast.organization.get()
        emu.configure(fail={3: "503"})
        with pytest.raises(hc.ServerError):
            await fast.organization.get()  # no retry
        assert (await client.applications.list())[0].id == 2
        assert len(emu.log) == 4
        await fast.close()  # closes nothing of the client's
        assert (await client.organization.get()).id == 4242
    with pytest.raises(hc.ClientClosedError):
        await fast.organization.get()


async def test_with_options_checks_its_arguments() -> None:
    async with Emulator(customers=3, api_key=KEY) as emu, client_for(emu) as client:
        for bad in ({"max_retries": -1}, {"timeout": 0}, {"max_rate_limit_wait": -1}):
            with pytest.raises(hc.InvalidParameterError):
                client.with_options(**bad)
        patient = client.with_options(max_rate_limit_wait=None)
        assert (await patient.organization.get()).id == 4242


BAD_CALLS: list[tuple[str, Any]] = [
    ("create customer", lambda c: c.chats.create(customer=0, application=2)),
    ("create application", lambda c: c.chats.create(customer=1, application="2")),
    ("status", lambda c: c.chats.set_status(1, "done")),
    ("status id", lambda c: c.chats.set_status("1", "closed")),
    ("assign", lambda c: c.chats.assign(1, None)),
    ("department", lambda c: c.chats.set_department(1, -3)),
    ("snooze naive", lambda c: c.chats.snooze(1, datetime(2030, 1, 1))),  # noqa: DTZ001 -- refused
    ("snooze str", lambda c: c.chats.snooze(1, "tomorrow")),
    ("rate", lambda c: c.chats.rate(1, "excellent")),
    ("mark_read", lambda c: c.chats.mark_read(1, by="bot")),
    ("message text", lambda c: c.chats.send_message(1, "  ")),
    ("message agent", lambda c: c.chats.send_message(1, "x", agent="501")),
    ("message private", lambda c: c.chats.send_message(1, "x", private=True)),
    ("message private type", lambda c: c.chats.send_message(1, "x", agent=501, private="yes")),
]


@pytest.mark.parametrize(("what", "call"), BAD_CALLS, ids=[w for w, _ in BAD_CALLS])
async def test_bad_arguments_are_refused_before_any_request(what: str, call: Any) -> None:
    async with Emulator(customers=3, api_key=KEY) as emu, client_for(emu) as client:
        with pytest.raises(hc.InvalidParameterError):
            await call(client)
        assert emu.log == [], what
