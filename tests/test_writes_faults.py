"""Every unknown-fate case made real by the emulator: no duplicate, ever; no false failure.

Each call ends in the written record (read back when its answer was lost), a
clean refusal, or `AmbiguousWriteError`; the emulator's truth says how many
records exist afterwards.
"""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING, Any

import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import Emulator, Faults
from helpcrunch_async.testing._policies import max_in_any_window
from helpcrunch_async.testing._write_faults import WriteFaults

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

KEY = "test-key"
pytestmark = pytest.mark.timeout(60)
# After the write: drop the connection, answer 500, stall past the timeout.
APPLIED = ["drop", "500", "stall"]
# Before or instead of the write (the existing request faults): the 2xx body cut
# short or damaged (applied), a 500 or 503 in place of the answer (not applied).
REQUEST = {"truncate": True, "malformed": True, "drop": True, "500": False, "503": False}


def client_for(emu: Emulator, **kwargs: Any) -> hc.HelpCrunch:
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("max_backoff", 0.05)
    kwargs.setdefault("timeout", 0.5)
    return hc.HelpCrunch(KEY, base_url=emu.base_url, **kwargs)


def emulator(**kwargs: Any) -> Emulator:
    kwargs.setdefault("customers", 20)
    kwargs.setdefault("chats", 3)
    return Emulator(api_key=KEY, write_faults=WriteFaults(stall=2.0), **kwargs)


def with_user_id(emu: Emulator, user_id: str) -> list[dict[str, Any]]:
    return [c for c in emu.truth_customers() if c["userId"] == user_id]


@pytest.mark.parametrize("kind", APPLIED)
async def test_a_created_customer_whose_answer_is_lost_is_read_back_not_sent_twice(
    kind: str,
) -> None:
    async with emulator() as emu, client_for(emu) as client:
        emu.write_faults.fail = {1: kind}
        made = await client.customers.create(user_id="crm-9", name="Ann")
        assert with_user_id(emu, "crm-9") == [emu.customer(made.id)]
        assert [e.path for e in emu.log] == ["/v1/customers", "/v1/customers/search"]


@pytest.mark.parametrize(("kind", "applied"), REQUEST.items())
async def test_request_faults_on_a_create_end_in_exactly_one_customer(
    kind: str, *, applied: bool
) -> None:
    async with emulator() as emu, client_for(emu) as client:
        emu.configure(fail={1: kind})
        made = await client.customers.create(email="bo@example.org", name="Bo")
        twins = [c for c in emu.truth_customers() if c["email"] == "bo@example.org"]
        assert twins == [emu.customer(made.id)]
        creates = [e for e in emu.log if e.path == "/v1/customers"]
        # Applied: read back and found. Not applied: read back, not found, sent again.
        assert len(creates) == (1 if applied else 2)


async def test_a_lost_answer_with_no_retries_left_and_nothing_made_is_a_clean_failure() -> None:
    async with emulator() as emu, client_for(emu, max_retries=0) as client:
        emu.configure(fail={1: "500"})
        with pytest.raises(hc.ServerError):
            await client.customers.create(user_id="x")
        assert with_user_id(emu, "x") == []


@pytest.mark.parametrize("kind", APPLIED)
async def test_a_customer_with_nothing_to_read_back_by_is_ambiguous(kind: str) -> None:
    async with emulator() as emu, client_for(emu) as client:
        emu.write_faults.fail = {1: kind}
        total = emu.total
        with pytest.raises(hc.AmbiguousWriteError, match="may or may not") as caught:
            await client.customers.create(name="No key")
        assert caught.value.applied is None
        assert emu.total == total + 1  # it was applied: nothing was sent again
        assert len(emu.log) == 1


@pytest.mark.parametrize("kind", APPLIED)
async def test_an_event_whose_answer_is_lost_is_ambiguous_and_never_sent_twice(
    kind: str,
) -> None:
    async with emulator() as emu, client_for(emu) as client:
        emu.write_faults.fail = {1: kind}
        with pytest.raises(hc.AmbiguousWriteError, match="nothing to read it back by"):
            await client.customers.add_event(emu.expected_ids()[0], "Upgraded")
        assert len(emu.writes.events) == 1
        assert len(emu.log) == 1


async def test_a_damaged_2xx_of_an_event_says_it_was_applied() -> None:
    async with emulator() as emu, client_for(emu) as client:
        emu.configure(fail={1: "malformed"})
        with pytest.raises(hc.AmbiguousWriteError) as caught:
            await client.customers.add_event(emu.expected_ids()[0], "Upgraded")
        assert caught.value.applied is True
        assert len(emu.writes.events) == 1


@pytest.mark.parametrize("kind", APPLIED)
@pytest.mark.parametrize("server_ahead", [0.0, 3600.0])
async def test_a_chat_whose_answer_is_lost_is_found_by_customer_and_creation_time(
    kind: str, server_ahead: float
) -> None:
    clock = lambda: time.time() + server_ahead  # noqa: E731 -- the server's clock, maybe ahead
    async with emulator(clock=clock) as emu, client_for(emu) as client:
        customer = emu.expected_ids()[3]
        emu.write_faults.fail = {1: kind}
        chat = await client.chats.create(customer=customer, application=2)
        mine = [c for c in emu.truth_chats() if c["customer"]["id"] == customer]
        assert [c["id"] for c in mine if c["createdWith"] == "public_api"] == [chat.id]
        assert chat == await client.chats.get(chat.id)


async def test_two_chats_that_may_each_be_the_lost_one_are_ambiguous() -> None:
    async with emulator() as emu, client_for(emu) as client:
        customer = emu.expected_ids()[3]
        await client.chats.create(customer=customer, application=2)
        emu.write_faults.fail = {2: "drop"}
        with pytest.raises(hc.AmbiguousWriteError, match="2 records"):
            await client.chats.create(customer=customer, application=2)


@pytest.mark.parametrize("kind", APPLIED)
async def test_a_message_whose_answer_is_lost_is_found_not_posted_twice(kind: str) -> None:
    async with emulator() as emu, client_for(emu) as client:
        chat = emu.expected_chat_ids()[0]
        before = emu.message_count(chat)
        emu.write_faults.fail = {1: kind}
        sent = await client.chats.send_message(chat, "Your refund is on its way", agent=501)
        assert emu.message_count(chat) == before + 1
        assert emu.truth_messages(chat)[0]["id"] == sent.id
        assert sent.text == "Your refund is on its way"


async def test_a_message_not_applied_is_sent_again_once() -> None:
    async with emulator() as emu, client_for(emu) as client:
        chat = emu.expected_chat_ids()[0]
        before = emu.message_count(chat)
        emu.configure(fail={1: "503"})
        await client.chats.send_message(chat, "hello", agent=None)
        assert emu.message_count(chat) == before + 1


@pytest.mark.parametrize("kind", APPLIED)
async def test_a_delete_whose_retry_meets_404_after_a_lost_answer_succeeded(kind: str) -> None:
    async with emulator() as emu, client_for(emu) as client:
        target = emu.expected_ids()[2]
        emu.write_faults.fail = {1: kind}
        await client.customers.delete(target)
        assert emu.customer(target) is None
        assert [e.status for e in emu.log][-1] == 404


@pytest.mark.parametrize("kind", APPLIED)
async def test_patch_put_and_chat_updates_repeat_safely(kind: str) -> None:
    async with emulator() as emu, client_for(emu) as client:
        target = emu.expected_ids()[1]
        chat = emu.expected_chat_ids()[1]
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: client.customers.update(target, notes="patched"),
            lambda: client.customers.replace(target, name="Replaced"),
            lambda: client.chats.set_status(chat, "pending"),
        ]
        for number, call in enumerate(calls, start=1):
            emu.write_faults.fail = {number: kind}
            await call()
        assert (emu.customer(target) or {})["name"] == "Replaced"
        assert (emu.chat(chat) or {})["status"] == "pending"


async def test_a_create_that_never_left_is_retried_then_fails_cleanly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens: every attempt is refused, provably unsent. A read-back
    # would have been tried (and failed, hence AmbiguousWriteError) otherwise.
    async with hc.HelpCrunch(
        KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=2, backoff=0.01
    ) as client:
        with pytest.raises(hc.TransportError) as caught:
            await client.customers.create(user_id="never")
    assert not isinstance(caught.value, hc.AmbiguousWriteError)


async def test_a_429_on_a_create_is_sent_again() -> None:
    async with emulator() as emu, client_for(emu) as client:
        emu.configure(fail={1: "429"}, retry_after=False)
        made = await client.customers.create(user_id="limited")
        assert with_user_id(emu, "limited") == [emu.customer(made.id)]
        assert [e.status for e in emu.log] == [429, 200]


async def test_every_attempt_of_every_write_counts_against_the_one_cap() -> None:
    limit, period = 4, 0.4
    async with (
        emulator(policy="sliding", rate_limit=limit, rate_period=period) as emu,
        client_for(emu, rate_limit=limit, rate_period=period, timeout=0.3) as client,
    ):
        emu.write_faults.drop_rate = 0.3
        ids = emu.expected_ids()
        for n in range(6):
            await client.customers.create(user_id=f"cap-{n}")
            await client.customers.update(ids[n], notes="n")
        await client.customers.update_many([{"id": i, "notes": "m"} for i in ids[:15]])
        arrivals = [e.time for e in emu.log]
        assert all(e.accepted for e in emu.log)
        assert max_in_any_window(arrivals, period) <= limit
        for n in range(6):
            assert len(with_user_id(emu, f"cap-{n}")) == 1


async def test_an_ambiguous_write_never_carries_the_key_a_proxy_echoed() -> None:
    secret = "sk-live-SECRET-0123456789"  # noqa: S105 -- a made-up key to hunt for
    async with (
        Emulator(
            customers=5, api_key=secret, write_faults=WriteFaults(), faults=Faults(echo_auth=True)
        ) as emu,
        hc.HelpCrunch(secret, base_url=emu.base_url, backoff=0.01) as client,
    ):
        emu.write_faults.fail = {1: "500"}
        with pytest.raises(hc.AmbiguousWriteError) as caught:
            await client.customers.add_event(emu.expected_ids()[0], "Upgraded")
    assert "***" in str(caught.value)  # the echo was there, scrubbed
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value.__dict__)
    assert caught.value.__context__ is None
    assert caught.value.__cause__ is None
