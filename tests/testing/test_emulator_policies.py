import math
from itertools import accumulate, pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async._core.retry import parse_retry_after
from helpcrunch_async.testing._policies import (
    POLICY_NAMES,
    FixedWindow,
    NoBurst,
    RateLimit,
    RatePolicy,
    SlidingWindow,
    TokenBucket,
    Unlimited,
    make_policy,
    max_in_any_window,
    retry_after_header,
    retry_after_seconds,
)

arrivals = st.lists(st.floats(0.0, 0.4), min_size=1, max_size=60).map(
    lambda gaps: list(accumulate(gaps))
)
limits = st.integers(1, 6)
periods = st.sampled_from([0.25, 0.5, 1.0, 2.0])
switch = st.booleans()


Decision = tuple[float, bool, float | None]


def run(policy: RatePolicy, times: list[float]) -> list[Decision]:
    return [(now, *policy.admit(now)) for now in times]


def accepted_times(decisions: list[Decision]) -> list[float]:
    return [now for now, ok, _ in decisions if ok]


@given(times=arrivals, limit=limits, period=periods, count_rejected=switch)
def test_sliding_never_exceeds_the_limit_in_any_window(
    times: list[float], limit: int, period: float, count_rejected: bool
) -> None:
    decisions = run(SlidingWindow(limit, period, count_rejected=count_rejected), times)
    assert max_in_any_window(accepted_times(decisions), period) <= limit


@given(times=arrivals, limit=limits, period=periods)
def test_sliding_rejects_only_when_the_window_is_full(
    times: list[float], limit: int, period: float
) -> None:
    decisions = run(SlidingWindow(limit, period), times)
    accepted = accepted_times(decisions)
    for now, ok, wait in decisions:
        in_window = sum(now - period < t <= now for t in accepted if t <= now)
        if not ok:
            assert in_window >= limit
            assert wait is not None
            assert wait > 0


@given(times=arrivals, limit=limits, period=periods, count_rejected=switch)
def test_fixed_never_exceeds_the_limit_per_clock_window(
    times: list[float], limit: int, period: float, count_rejected: bool
) -> None:
    policy = FixedWindow(limit, period, origin=0.1, count_rejected=count_rejected)
    decisions = run(policy, times)
    windows = [math.floor((t - 0.1) / period) for t in accepted_times(decisions)]
    assert all(windows.count(w) <= limit for w in set(windows))
    for now, ok, wait in decisions:
        if not ok:
            assert wait is not None
            next_start = 0.1 + (math.floor((now - 0.1) / period) + 1) * period
            assert now + wait == pytest.approx(next_start)


@given(times=arrivals, limit=limits, period=periods, count_rejected=switch)
def test_token_bucket_admits_capacity_plus_refill(
    times: list[float], limit: int, period: float, count_rejected: bool
) -> None:
    decisions = run(TokenBucket(limit, period, count_rejected=count_rejected), times)
    accepted = accepted_times(decisions)
    rate = limit / period
    for i in range(len(accepted)):
        for j in range(i, len(accepted)):
            assert j - i + 1 <= limit + (accepted[j] - accepted[i]) * rate + 1e-6


def test_token_bucket_starts_full_and_refills() -> None:
    bucket = TokenBucket(3, 1.0)
    assert [bucket.admit(0.0)[0] for _ in range(4)] == [True, True, True, False]
    assert bucket.admit(0.2)[1] == pytest.approx(0.4 / 3)
    assert bucket.admit(1 / 3)[0]


@given(times=arrivals, limit=limits, period=periods, count_rejected=switch)
def test_no_burst_spaces_accepted_requests(
    times: list[float], limit: int, period: float, count_rejected: bool
) -> None:
    decisions = run(NoBurst(limit, period, count_rejected=count_rejected), times)
    accepted = accepted_times(decisions)
    assert all(b - a >= period / limit - 1e-9 for a, b in pairwise(accepted))


@pytest.mark.parametrize("name", ["sliding", "fixed", "token-bucket", "no-burst"])
@given(times=arrivals, limit=limits, period=periods, count_rejected=switch)
def test_waiting_the_announced_time_is_enough(
    name: str, times: list[float], limit: int, period: float, count_rejected: bool
) -> None:
    policy = make_policy(name, limit, period, count_rejected=count_rejected)
    for now in times:
        ok, wait = policy.admit(now)
        if ok:
            assert wait is None
            continue
        assert wait is not None
        assert wait > 0
        # Nothing else arrives in between: the announced moment is admitted.
        assert policy.admit(now + wait)[0]
        return


def test_sliding_count_rejected_extends_the_lockout() -> None:
    counting = SlidingWindow(2, 1.0, count_rejected=True)
    lenient = SlidingWindow(2, 1.0, count_rejected=False)
    for policy in (counting, lenient):
        assert policy.admit(0.0)[0]
        assert policy.admit(0.1)[0]
        assert not policy.admit(0.5)[0]
    assert lenient.admit(1.05)[0]
    assert not counting.admit(1.05)[0]
    assert counting.admit(1.5)[0]


def test_token_bucket_count_rejected_goes_into_debt() -> None:
    counting = TokenBucket(1, 1.0, count_rejected=True)
    assert counting.admit(0.0)[0]
    assert counting.admit(0.5)[1] == pytest.approx(1.5)
    assert not counting.admit(1.0)[0]
    lenient = TokenBucket(1, 1.0)
    assert lenient.admit(0.0)[0]
    assert lenient.admit(0.5)[1] == pytest.approx(0.5)
    assert lenient.admit(1.0)[0]


def test_no_burst_count_rejected_restarts_the_spacing() -> None:
    counting = NoBurst(10, 1.0, count_rejected=True)
    lenient = NoBurst(10, 1.0)
    for policy in (counting, lenient):
        assert policy.admit(0.0)[0]
        assert not policy.admit(0.05)[0]
    assert lenient.admit(0.1)[0]
    assert not counting.admit(0.1)[0]
    assert not counting.admit(0.15)[0]
    assert counting.admit(0.25)[0]


def test_fixed_windows_align_to_the_origin() -> None:
    policy = FixedWindow(1, 1.0, origin=0.5)
    assert policy.admit(0.6)[0]
    assert policy.admit(1.4)[1] == pytest.approx(0.1)
    assert policy.admit(1.5)[0]


def test_unlimited_accepts_everything() -> None:
    policy = Unlimited()
    assert all(policy.admit(0.0) == (True, None) for _ in range(1000))


def test_make_policy_knows_every_name_and_rejects_others() -> None:
    assert set(POLICY_NAMES) == {"sliding", "fixed", "token-bucket", "no-burst", "none"}
    for name in POLICY_NAMES:
        assert make_policy(name, 5, 1.0).admit(0.0) == (True, None)
    with pytest.raises(ValueError, match="unknown rate policy"):
        make_policy("leaky", 5, 1.0)
    with pytest.raises(ValueError, match="at least 1"):
        make_policy("sliding", 0, 1.0)
    with pytest.raises(ValueError, match="positive"):
        make_policy("fixed", 1, 0.0)


def test_retry_after_is_a_whole_second_ceiling_of_at_least_one() -> None:
    assert retry_after_seconds(None) == 1
    assert retry_after_seconds(0.01) == 1
    assert retry_after_seconds(1.0) == 1
    assert retry_after_seconds(1.2) == 2
    assert retry_after_seconds(59.9) == 60
    assert retry_after_header(retry_after_seconds(59.9)) == "60"


@given(
    wait=st.none() | st.floats(0.0, 120.0),
    resolution=st.sampled_from([1.0, 0.5, 1 / 60, 0.05, 0.001]) | st.floats(0.001, 5.0),
)
def test_retry_after_is_the_wait_rounded_up_to_the_resolution_and_read_back_whole(
    wait: float | None, resolution: float
) -> None:
    seconds = retry_after_seconds(wait, resolution)
    steps = seconds / resolution
    assert math.isclose(steps, round(steps), abs_tol=1e-6), "a multiple of the resolution"
    assert seconds >= resolution
    if wait is not None:
        assert seconds >= wait - 1e-9
        assert seconds < max(wait, 0.0) + resolution + 1e-9
    # What the client reads is never less than the wait and at most a millisecond more.
    read = parse_retry_after(retry_after_header(seconds), now=0.0)
    assert read is not None
    assert seconds - 1e-9 <= read <= seconds + 0.001


def test_retry_after_header_is_whole_seconds_or_a_decimal() -> None:
    assert retry_after_header(1.0) == "1"
    assert retry_after_header(0.05) == "0.05"
    assert retry_after_header(1 / 60) == "0.017"
    assert retry_after_header(1.25) == "1.25"


@pytest.mark.parametrize("resolution", [0.0, -1.0, math.nan, math.inf])
def test_a_retry_after_resolution_that_is_not_positive_seconds_is_refused(
    resolution: float,
) -> None:
    with pytest.raises(ValueError, match="retry_after_resolution"):
        RateLimit(retry_after_resolution=resolution)
    with pytest.raises(ValueError, match="retry_after_resolution"):
        retry_after_seconds(1.0, resolution)


@given(times=st.lists(st.floats(0, 10), max_size=40), window=st.floats(0.01, 3))
def test_max_in_any_window_matches_brute_force(times: list[float], window: float) -> None:
    brute = max((sum(t <= u < t + window for u in times) for t in times), default=0)
    assert max_in_any_window(times, window) == brute


def test_max_in_any_window_is_half_open() -> None:
    assert max_in_any_window([0.0, 1.0], 1.0) == 1
    assert max_in_any_window([0.0, 0.999], 1.0) == 2
    assert max_in_any_window([], 1.0) == 0
