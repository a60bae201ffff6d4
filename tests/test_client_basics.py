"""The client against the emulator: single calls, argument checks, keys and URLs."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
import pytest

import helpcrunch_async as hc
from helpcrunch_async.testing import Emulator

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

KEY = "sk-test-0123456789abcdef"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(customers=250, seed=3, api_key=KEY) as server:
        yield server


def client_for(emu: Emulator, **kwargs: Any) -> hc.HelpCrunch:
    kwargs.setdefault("backoff", 0.01)
    return hc.HelpCrunch(KEY, base_url=emu.base_url, **kwargs)


async def test_list_returns_a_typed_page(emu: Emulator) -> None:
    async with client_for(emu) as client:
        page = await client.customers.list(offset=10, limit=5, sort="customers.firstSeen")
    assert page.total == 250
    assert len(page.data) == 5
    assert all(isinstance(c, hc.Customer) for c in page.data)
    assert [c.id for c in page.data] == emu.expected_ids("customers.firstSeen", "asc")[10:15]


async def test_get_one_customer_and_encode_it_back(emu: Emulator) -> None:
    wanted = emu.expected_ids(None, "asc")[7]
    async with client_for(emu) as client:
        customer = await client.customers.get(wanted)
    assert customer.id == wanted
    wire = msgspec.json.decode(msgspec.json.encode(customer))
    assert wire["id"] == wanted
    assert "customData" in wire
    assert "firstSeen" in wire


async def test_get_missing_customer_is_not_found_and_not_retried(emu: Emulator) -> None:
    async with client_for(emu) as client:
        with pytest.raises(hc.NotFoundError) as info:
            await client.customers.get(999_999_999)
    assert info.value.status == 404
    assert info.value.errors
    assert len(emu.log) == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"limit": 101},
        {"offset": -1},
        {"sort": "customers.name"},
        {"order": "up"},
    ],
)
async def test_bad_arguments_fail_before_any_request(emu: Emulator, kwargs: dict[str, Any]) -> None:
    async with client_for(emu) as client:
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            await client.customers.list(**kwargs)
        renamed = {"limit": "page_size", "offset": "start"}
        scan_kwargs = {renamed.get(k, k): v for k, v in kwargs.items()}
        with pytest.raises(ValueError, match=r"page_size|limit|sort|order|offset|start"):
            client.customers.iter_all(**scan_kwargs)
    assert emu.log == []


async def test_wrong_key_is_an_authentication_error_without_the_key(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="helpcrunch_async")
    secret = "sk-wrong-key-that-must-never-show"  # noqa: S105 -- a fake key to hunt for
    async with hc.HelpCrunch(secret, base_url=emu.base_url) as client:
        assert secret not in repr(client)
        with pytest.raises(hc.AuthenticationError) as info:
            await client.customers.list()
    error = info.value
    assert error.status == 401
    assert {e.code for e in error.errors} == {"invalid_token"}
    for text in (str(error), repr(error), caplog.text):
        assert secret not in text
    assert len(emu.log) == 1  # 401 is never retried


async def test_transport_errors_do_not_carry_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="helpcrunch_async")
    # A loopback port with nothing listening: connection refused, retried, then raised.
    async with hc.HelpCrunch(
        KEY, base_url="http://127.0.0.1:9/v1", max_retries=1, backoff=0.0
    ) as client:
        with pytest.raises(hc.TransportError) as info:
            await client.customers.list()
    assert KEY not in str(info.value)
    assert KEY not in repr(info.value)
    assert info.value.__cause__ is None
    assert KEY not in caplog.text
    assert "retrying" in caplog.text


def test_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "from-env")
    client = hc.HelpCrunch(base_url="http://127.0.0.1:1/v1")
    assert "from-env" not in repr(client)


def test_no_key_at_all_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HELPCRUNCH_API_KEY", raising=False)
    with pytest.raises(hc.InvalidParameterError, match="HELPCRUNCH_API_KEY"):
        hc.HelpCrunch()


def test_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(ValueError, match="https"):
        hc.HelpCrunch(KEY, base_url="http://api.helpcrunch.com/v1")


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"rate_limit": 0}, "rate_limit"),
        ({"rate_period": 0}, "rate_period"),
        ({"concurrency": 0}, "concurrency"),
        ({"max_retries": -1}, "max_retries"),
        ({"timeout": -5}, "timeout"),
    ],
)
def test_bad_settings_are_refused_at_construction(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        hc.HelpCrunch(KEY, base_url="http://127.0.0.1:1/v1", **kwargs)


async def test_a_session_the_caller_owns_stays_open(emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with client_for(emu, session=session) as client:
            page = await client.customers.list(limit=3)
        assert len(page.data) == 3
        assert not session.closed


async def test_one_budget_shared_by_two_clients(emu: Emulator) -> None:
    budget = hc.LocalBudget(5, 60.0)
    async with client_for(emu, rate_budget=budget) as a, client_for(emu, rate_budget=budget) as b:
        for client in (a, b, a, b, a):
            await client.customers.list(limit=1)
        assert budget.snapshot().limit == 5
        # The sixth request in the same minute would have to wait for the window.
        assert len(emu.log) == 5


async def test_a_closed_client_refuses_new_requests(emu: Emulator) -> None:
    client = client_for(emu)
    await client.customers.list(limit=1)
    await client.close()
    await client.close()  # closing twice is harmless
    with pytest.raises(RuntimeError, match="closed"):
        await client.customers.list(limit=1)
    assert len(emu.log) == 1


def test_base_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", "http://127.0.0.1:1/v1/")
    assert hc.HelpCrunch(KEY).base_url == "http://127.0.0.1:1/v1"
    # An argument wins over the environment.
    assert hc.HelpCrunch(KEY, base_url="http://[::1]:2/v1").base_url == "http://[::1]:2/v1"


@pytest.mark.parametrize("value", [None, "", "  "])
def test_no_base_url_anywhere_is_the_real_api(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("HELPCRUNCH_BASE_URL", raising=False)
    else:
        monkeypatch.setenv("HELPCRUNCH_BASE_URL", value)
    assert hc.HelpCrunch(KEY).base_url == hc.DEFAULT_BASE_URL


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("http://api.helpcrunch.com/v1", "https"),
        ("ftp://127.0.0.1/v1", "http"),
        ("https://user:pw@api.helpcrunch.com/v1", "credentials"),
    ],
)
def test_a_bad_base_url_in_the_environment_is_named(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", value)
    with pytest.raises(hc.InvalidParameterError, match=problem) as info:
        hc.HelpCrunch(KEY)
    assert "HELPCRUNCH_BASE_URL" in str(info.value)
    assert "pw" not in str(info.value)
