"""The mode machine of the Redis budget, without a redis-server: times are arguments."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async._core.shared_cap import transition_end
from helpcrunch_async._redis.state import FALLBACK, HANDOVER, SHARED, ModeState
from helpcrunch_async.testing import max_in_any_window

LIMIT, PERIOD, MARGIN, SHARE = 10, 1.0, 0.02, 5
PROBE, TIMEOUT = 0.25, 0.1


def state() -> ModeState:
    return ModeState(
        limit=LIMIT,
        period=PERIOD,
        margin=MARGIN,
        share=SHARE,
        probe_interval=PROBE,
        redis_timeout=TIMEOUT,
    )


def test_a_new_state_is_shared_and_unpaused() -> None:
    s = state()
    assert s.mode == SHARED
    assert s.fallbacks == 0
    assert s.local is None
    assert s.pause_left(100.0) == 0.0


def test_falling_back_quarantines_one_window_and_is_idempotent() -> None:
    s = state()
    assert s.fall_back(10.0)
    assert s.mode == FALLBACK
    assert s.fallbacks == 1
    assert s.not_before == pytest.approx(10.0 + PERIOD + MARGIN)
    assert not s.fall_back(10.5)  # the same outage
    assert s.fallbacks == 1
    assert s.not_before == pytest.approx(10.0 + PERIOD + MARGIN)


def test_a_pause_known_at_the_fault_holds_the_fallback_longer() -> None:
    s = state()
    s.paused(10.0, 5.0)
    s.fall_back(10.0)
    assert s.not_before == pytest.approx(15.0)


def test_no_fallback_send_without_a_recent_failed_probe() -> None:
    s = state()
    s.fall_back(10.0)
    # Inside the quarantine: wait, but never past the next probe.
    stamp, wait = s.fallback_slot(10.1)
    assert stamp is None
    assert wait == pytest.approx(10.0 + PROBE - 10.1)
    # At the probe time: no slot until the probe is made.
    assert s.due_to_probe(10.0 + PROBE)
    assert s.fallback_slot(10.0 + PROBE) == (None, 0.0)
    s.probe_failed(10.0 + PROBE)
    assert not s.due_to_probe(10.0 + PROBE)


def run_fallback(s: ModeState, start: float, until: float) -> list[float]:
    """Drive the state as the shell does, every probe failing; return the send times."""
    now, sends = start, []
    while now < until:
        if s.due_to_probe(now):
            s.probe_failed(now)
            continue
        stamp, wait = s.fallback_slot(now)
        if stamp is not None:
            sends.append(now)
        else:
            now += wait
    return sends


@given(offset=st.floats(min_value=-1e6, max_value=1e6))
def test_fallback_sends_keep_to_the_share_in_any_window(offset: float) -> None:
    s = state()
    s.learn(redis_now=offset, pause_until=offset - 1.0, before=0.0, after=0.0)
    s.fall_back(0.0)
    sends = run_fallback(s, 0.0, 5.0)
    assert sends
    assert sends[0] >= PERIOD + MARGIN
    assert max_in_any_window(sends, PERIOD) <= SHARE


def test_stamps_are_on_the_redis_clock_and_found_again() -> None:
    s = state()
    s.learn(redis_now=1000.0, pause_until=0.0, before=10.0, after=10.01)
    assert s.offset == pytest.approx(990.0)
    s.fall_back(10.0)
    s.probe_failed(11.1)
    stamp, _ = s.fallback_slot(11.2)
    assert stamp is not None
    assert stamp == pytest.approx(11.2 + 990.0)
    assert s.local_time(stamp) == 11.2
    assert s.local_time(stamp + 1) is None


def test_a_pause_from_redis_is_mapped_late_onto_this_clock() -> None:
    s = state()
    s.learn(redis_now=1000.0, pause_until=1003.0, before=10.0, after=10.2)
    assert s.pause_left(10.2) == pytest.approx(3.0)


def test_a_429_in_fallback_pauses_the_local_share() -> None:
    s = state()
    s.fall_back(0.0)
    s.probe_failed(1.1)
    stamp, _ = s.fallback_slot(1.1)
    assert stamp is not None
    pause = s.local_rate_limited(1.2, stamp, 2.0)
    assert pause == pytest.approx(2.0)
    assert s.pause_left(1.2) == pytest.approx(2.0)
    assert s.fallback_slot(1.3)[0] is None


def test_rejoining_hands_over_then_returns_to_shared() -> None:
    s = state()
    s.fall_back(0.0)
    s.probe_failed(1.1)
    s.fallback_slot(1.1)
    s.rejoined(before=2.0, after=2.01, redis_now=500.0, shared_until=0.0, extend=True)
    assert s.mode == HANDOVER
    assert s.handover_until == pytest.approx(2.01 + s.handover_seconds())
    assert s.handover_seconds() == transition_end(0.0, PROBE, TIMEOUT, PERIOD, MARGIN)
    s.end_handover_if_due(s.handover_until - 0.01)
    assert s.mode == HANDOVER
    assert s.local is not None
    s.end_handover_if_due(s.handover_until)
    assert s.mode == SHARED
    assert s.local is None


def test_a_shared_hand_over_mark_holds_a_process_that_never_fell_back() -> None:
    s = state()
    for at in (0.0, 0.1, 0.2, 0.3, 0.4):  # the whole share, through Redis
        s.admitted(at)
    # Another process is back: the mark ends 3 s from Redis's now.
    s.rejoined(before=0.5, after=0.5, redis_now=100.0, shared_until=103.0, extend=False)
    assert s.mode == HANDOVER
    assert s.handover_until == pytest.approx(3.5)
    # The share starts from its own recent sends: none left in this window.
    assert s.handover_wait(0.5) == pytest.approx(PERIOD + MARGIN - 0.5)
    s.handover_sent(7.0, 1.02)
    assert s.local_time(7.0) == 1.02


def test_rejoin_ages_split_fallback_and_shared_sends() -> None:
    s = state()
    s.admitted(0.5)
    assert s.rejoin_ages(1.0) == ([], [0.5])
    s.fall_back(1.0)
    s.probe_failed(2.1)
    s.fallback_slot(2.1)
    # The shared send is older than one window by now; the fallback one is not.
    fallback, shared = s.rejoin_ages(2.5)
    assert fallback == [pytest.approx(0.4)]
    assert shared == []
    assert s.rejoin_ages(10.0) == ([], [])
