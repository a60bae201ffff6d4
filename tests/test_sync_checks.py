"""The sync source's own arguments are checked before any request, each bad one named."""

from __future__ import annotations

import pytest

import helpcrunch_async as hc
from helpcrunch_async._sync.checks import check_source
from helpcrunch_async.dlt import helpcrunch_source

GOOD = {"refresh_days": 0, "inbox_only": False, "has_inbox": False, "inbox_limit": 1}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"refresh_days": -1}, "refresh_days"),
        ({"refresh_days": True}, "refresh_days"),
        ({"refresh_days": 1.5}, "refresh_days"),
        ({"inbox_only": True}, "inbox_only needs an inbox"),
        ({"inbox_limit": 0}, "inbox_limit"),
        ({"inbox_limit": "10"}, "inbox_limit"),
    ],
)
def test_a_bad_argument_is_named(change: dict[str, object], named: str) -> None:
    with pytest.raises(hc.InvalidParameterError, match=named):
        check_source(**{**GOOD, **change})  # type: ignore[arg-type]


def test_good_arguments_pass() -> None:
    check_source(**GOOD)  # type: ignore[arg-type]
    check_source(refresh_days=7, inbox_only=True, has_inbox=True, inbox_limit=100_000)


def test_the_source_checks_them_before_it_builds_a_client() -> None:
    with pytest.raises(hc.InvalidParameterError, match="inbox_only needs an inbox"):
        helpcrunch_source("a-key", base_url="http://127.0.0.1:9", inbox_only=True)
    with pytest.raises(hc.InvalidParameterError, match="refresh_days"):
        helpcrunch_source("a-key", base_url="http://127.0.0.1:9", refresh_days=-2)
