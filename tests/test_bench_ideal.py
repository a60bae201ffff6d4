"""The ideal schedule of benchmarks/ideal.py: hand-checked values and the emulator's rules."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.ideal import POLICIES, ideal_schedule, sequential_wall
from helpcrunch_async.testing._policies import make_policy, max_in_any_window

LIMITED = [p for p in POLICIES if p != "none"]


def test_a_burst_scan_of_40_pages_is_six_point_seven_times_a_sequential_loop() -> None:
    # 40 pages at 0.3 s, a budget that holds them all: first page, then 5 rounds of 8.
    schedule = ideal_schedule("sliding", limit=40, period=1.0, pages=40, concurrency=8, latency=0.3)
    assert schedule.wall == pytest.approx(1.8)
    assert sequential_wall(40, 0.3) / schedule.wall == pytest.approx(12 / 1.8)


def test_first_page_goes_alone() -> None:
    schedule = ideal_schedule("none", limit=1, period=1.0, pages=3, concurrency=8, latency=0.5)
    assert schedule.sends == (0.0, 0.5, 0.5)
    assert schedule.wall == pytest.approx(1.0)


def test_sliding_sends_a_whole_window_then_waits_for_the_window() -> None:
    schedule = ideal_schedule("sliding", limit=4, period=1.0, pages=9, concurrency=100, latency=0.1)
    assert schedule.sends == pytest.approx([0, 0.1, 0.1, 0.1, 1.0, 1.1, 1.1, 1.1, 2.0])


def test_no_burst_paces_evenly() -> None:
    schedule = ideal_schedule(
        "no-burst", limit=4, period=1.0, pages=5, concurrency=100, latency=0.01
    )
    assert schedule.sends == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert schedule.wall == pytest.approx(1.01)


def test_token_bucket_bursts_its_capacity_then_refills() -> None:
    schedule = ideal_schedule(
        "token-bucket", limit=4, period=1.0, pages=6, concurrency=100, latency=0.0
    )
    assert schedule.sends == pytest.approx([0, 0, 0, 0, 0.25, 0.5])


def test_fixed_window_phase_decides_when_the_next_window_opens() -> None:
    lucky = ideal_schedule(
        "fixed", limit=2, period=1.0, pages=4, concurrency=100, latency=0.0, phase=0.0
    )
    late = ideal_schedule(
        "fixed", limit=2, period=1.0, pages=4, concurrency=100, latency=0.0, phase=0.75
    )
    assert lucky.sends == pytest.approx([0, 0, 1.0, 1.0])
    assert late.sends == pytest.approx([0, 0, 0.25, 0.25])


def test_concurrency_bounds_requests_in_flight() -> None:
    schedule = ideal_schedule("none", limit=1, period=1.0, pages=9, concurrency=2, latency=1.0)
    # First alone, then 8 more two at a time: 1 + 4 rounds of 1 s.
    assert schedule.wall == pytest.approx(5.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"policy": "bogus"},
        {"limit": 0},
        {"pages": 0},
        {"concurrency": 0},
        {"latency": -1.0},
        {"period": 0.0},
        {"policy": "fixed", "phase": 1.0},
    ],
)
def test_rejects_nonsense(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "policy": "sliding",
        "limit": 2,
        "period": 1.0,
        "pages": 3,
        "concurrency": 1,
        "latency": 0.1,
    }
    args.update(kwargs)
    policy = str(args.pop("policy"))
    with pytest.raises(ValueError, match=r"."):
        ideal_schedule(policy, **args)  # type: ignore[arg-type]  # values of mixed types on purpose


@settings(max_examples=150, deadline=None)
@given(
    policy=st.sampled_from(LIMITED),
    limit=st.integers(1, 12),
    pages=st.integers(1, 60),
    concurrency=st.integers(1, 10),
    latency=st.sampled_from([0.0, 0.01, 0.05, 0.3, 0.4]),
    phase_fraction=st.floats(0.0, 0.99),
)
def test_every_ideal_request_is_accepted_by_the_emulators_policy(
    *,
    policy: str,
    limit: int,
    pages: int,
    concurrency: int,
    latency: float,
    phase_fraction: float,
) -> None:
    period = 1.0
    phase = phase_fraction * period
    schedule = ideal_schedule(
        policy,
        limit=limit,
        period=period,
        pages=pages,
        concurrency=concurrency,
        latency=latency,
        phase=phase,
    )
    # The emulator's fixed windows start at ``origin``: put the first send ``phase`` in.
    gate = make_policy(policy, limit, period, origin=-phase)
    # Arrivals a microsecond later each, so float rounding in the emulator's window
    # arithmetic (now - period vs an earlier arrival) cannot decide a tie; fixed
    # windows use the same floor arithmetic as the ideal and need no nudge.
    nudge = 0.0 if policy == "fixed" else 1e-6
    arrivals = [t + nudge * (i + 1) for i, t in enumerate(schedule.sends)]
    verdicts = [gate.admit(t)[0] for t in arrivals]
    assert all(verdicts)
    assert list(schedule.sends) == sorted(schedule.sends)
    if policy != "fixed":
        assert max_in_any_window(arrivals, period) <= (
            2 * limit if policy == "token-bucket" else limit
        )
    # In flight: never more than ``concurrency`` (the first page alone).
    for t in schedule.sends:
        in_flight = sum(1 for s in schedule.sends if s <= t < s + latency)
        assert in_flight <= concurrency or latency == 0.0
    assert schedule.wall == pytest.approx(max(schedule.sends) + latency)


@settings(max_examples=100, deadline=None)
@given(
    policy=st.sampled_from(LIMITED),
    limit=st.integers(1, 8),
    pages=st.integers(2, 40),
    index=st.integers(1, 39),
)
def test_no_request_could_be_sent_earlier(policy: str, limit: int, pages: int, index: int) -> None:
    # With unbounded concurrency and no latency only the policy binds: sending any
    # request a little earlier than the ideal, the rest unchanged, gets it refused.
    schedule = ideal_schedule(
        policy, limit=limit, period=1.0, pages=pages, concurrency=1000, latency=0.0
    )
    k = min(index, pages - 1)
    earlier = schedule.sends[k] - 0.01
    if earlier < 0 or (k and earlier < schedule.sends[k - 1]):
        return  # it already goes as early as the order allows
    gate = make_policy(policy, limit, 1.0, origin=0.0)
    for t in schedule.sends[:k]:
        assert gate.admit(t)[0]
    assert not gate.admit(earlier)[0]


def test_throughput_of_an_instant_schedule_is_infinite() -> None:
    schedule = ideal_schedule("none", limit=1, period=1.0, pages=1, concurrency=1, latency=0.0)
    assert math.isinf(schedule.throughput)
