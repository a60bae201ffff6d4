"""Argument checks happen before any request and name the problem."""

from __future__ import annotations

import pytest

import helpcrunch_async
from helpcrunch_async._core.params import (
    api_key_problem,
    check_base_url,
    check_budget_key,
    check_limit,
    check_offset,
    check_order,
    check_seconds,
    check_sort,
)
from helpcrunch_async._core.shared_cap import key_names
from helpcrunch_async._errors import InvalidParameterError


@pytest.mark.parametrize("value", [0, 101, -1, 1.5, "10", True, None])
def test_limit_outside_1_to_100_is_refused(value: object) -> None:
    with pytest.raises(InvalidParameterError, match="limit"):
        check_limit(value)


@pytest.mark.parametrize("value", [1, 50, 100])
def test_limit_inside(value: int) -> None:
    assert check_limit(value) == value


@pytest.mark.parametrize("value", [-1, 1.0, "0", False])
def test_bad_offset(value: object) -> None:
    with pytest.raises(ValueError, match="offset"):
        check_offset(value)


def test_sort_and_order() -> None:
    assert check_sort("customers.firstSeen") == "customers.firstSeen"
    assert check_sort(None, optional=True) is None
    with pytest.raises(ValueError, match="sort must be one of"):
        check_sort("customers.name")
    with pytest.raises(ValueError, match="sort"):
        check_sort(None)
    assert check_order("desc") == "desc"
    with pytest.raises(ValueError, match="order must be 'asc' or 'desc'"):
        check_order("DESC")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.helpcrunch.com/v1",
        "http://127.0.0.1:8080/v1",
        "http://localhost:1/v1",
        "http://[::1]:9/v1",
        "http://127.5.6.7/v1/",
    ],
)
def test_https_or_loopback_is_accepted(url: str) -> None:
    assert str(check_base_url(url)).startswith(("http://", "https://"))


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://api.helpcrunch.com/v1", "must use https"),
        ("http://10.0.0.1/v1", "must use https"),
        ("ftp://api.helpcrunch.com/v1", "http"),
        ("https://user:pw@api.helpcrunch.com/v1", "credentials"),
        ("not a url", "http"),
        (42, "URL string"),
    ],
)
def test_unsafe_base_urls_are_refused(url: object, why: str) -> None:
    with pytest.raises(InvalidParameterError, match=why):
        check_base_url(url)


@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), "1", True])
def test_seconds(value: object) -> None:
    with pytest.raises(InvalidParameterError, match="timeout"):
        check_seconds("timeout", value)
    assert check_seconds("timeout", 0, allow_zero=True) == 0.0


# --- text that no request can carry is refused at the call, naming the argument ----------


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/v1\ud800", "https://api\udc80.example/v1", "https://x/v1?q=\udfff"],
)
def test_a_base_url_with_a_lone_surrogate_is_refused(url: str) -> None:
    with pytest.raises(InvalidParameterError, match="base_url is not valid text"):
        check_base_url(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/v1", "http://[::1/v1"])
def test_a_base_url_yarl_cannot_parse_is_an_invalid_parameter(url: str) -> None:
    with pytest.raises(InvalidParameterError, match="base_url is not a valid URL"):
        check_base_url(url)


def test_a_budget_key_with_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match="the budget key is not valid text"):
        check_budget_key("acme\ud800")
    with pytest.raises(InvalidParameterError, match="the budget key is not valid text"):
        key_names("acme\udfff")


def test_an_api_key_with_a_lone_surrogate_is_refused_without_quoting_it() -> None:
    key = "sk-live-\udc80-SECRET"
    with pytest.raises(InvalidParameterError, match="lone surrogate") as caught:
        helpcrunch_async.HelpCrunch(key)
    assert "SECRET" not in str(caught.value)
    assert api_key_problem("sk-live-ok") is None
