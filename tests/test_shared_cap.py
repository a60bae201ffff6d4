"""The pure arithmetic of the shared budget's fallback: shares, quarantine, hand-over."""

from __future__ import annotations

from typing import Any

import pytest

from helpcrunch_async._core.shared_cap import (
    default_probe_interval,
    fallback_share,
    fallback_start,
    jitter_bound,
    key_names,
    rejoin_ages,
    transition_end,
)


@pytest.mark.parametrize(
    ("limit", "workers", "share"), [(120, 4, 30), (120, 7, 17), (20, 3, 6), (5, 5, 1), (1, 1, 1)]
)
def test_fallback_shares_never_sum_over_the_limit(limit: int, workers: int, share: int) -> None:
    assert fallback_share(limit, workers) == share
    assert workers * share <= limit


@pytest.mark.parametrize("workers", [0, -1, True, 2.0])
def test_fallback_share_rejects_a_bad_worker_count(workers: Any) -> None:
    with pytest.raises(ValueError, match="fallback_workers"):
        fallback_share(120, workers)


def test_fallback_share_needs_one_request_per_worker() -> None:
    with pytest.raises(ValueError, match="must not exceed the rate limit"):
        fallback_share(3, 4)


def test_fallback_starts_one_window_after_the_fault_or_after_the_pause() -> None:
    assert fallback_start(100.0, 60.0, 1.2, float("-inf")) == pytest.approx(161.2)
    assert fallback_start(100.0, 60.0, 1.2, 300.0) == 300.0


def test_hand_over_lasts_until_every_prober_is_back_plus_a_window() -> None:
    assert transition_end(10.0, 0.25, 2.0, 1.0, 0.02) == pytest.approx(13.27)


def test_rejoin_ages_keep_the_last_window_fallback_first() -> None:
    sends = [(1.0, False), (8.0, False), (9.0, True), (9.5, True), (9.9, False)]
    fallback, shared = rejoin_ages(sends, 10.0, 2.5)
    assert fallback == pytest.approx([1.0, 0.5])
    assert shared == pytest.approx([2.0, 0.1])


def test_rejoin_ages_are_never_negative() -> None:
    assert rejoin_ages([(10.5, True)], 10.0, 1.0) == ([0.0], [])


def test_jitter_is_small_and_bounded() -> None:
    assert jitter_bound(0.0) == 0.0
    assert jitter_bound(-1.0) == 0.0
    assert jitter_bound(float("inf")) == 0.0
    assert jitter_bound(0.1) == pytest.approx(0.005)
    assert jitter_bound(60.0) == 0.01


def test_probe_interval_is_a_quarter_period_within_bounds() -> None:
    assert default_probe_interval(1.0) == 0.25
    assert default_probe_interval(60.0) == 5.0
    assert default_probe_interval(0.1) == 0.05


def test_keys_share_one_hash_tag() -> None:
    names = key_names("acme")
    assert names == (
        "{acme}:state",
        "{acme}:log",
        "{acme}:waiters",
        "{acme}:leases",
        "{acme}:ticket",
    )


@pytest.mark.parametrize("key", ["", "a{b", "c}"])
def test_keys_reject_names_that_break_the_hash_tag(key: str) -> None:
    with pytest.raises(ValueError, match="budget key"):
        key_names(key)
