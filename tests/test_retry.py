"""Retry decisions: Retry-After parsing, retryable outcomes, backoff bounds."""

from __future__ import annotations

import email.utils
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async._core.retry import (
    MAX_RETRY_AFTER,
    Decision,
    Failure,
    Outcome,
    Result,
    RetryPolicy,
    backoff_delay,
    classify,
    decide,
    is_retryable,
    parse_retry_after,
)
from helpcrunch_async._errors import InvalidParameterError

# Wed, 21 Oct 2015 07:28:00 GMT
NOW = 1445412480.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("  7 ", 7.0),
        ("1.5", 1.5),
        # The emulator's Retry-After in a finer resolution (a decimal of delta-seconds).
        ("0.05", 0.05),
        ("0.017", 0.017),
        (".5", 0.5),
        ("+3", 3.0),
        ("-3", 0.0),
        ("86400", MAX_RETRY_AFTER),
        ("99999999999999999999", MAX_RETRY_AFTER),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:28:30 -0000", 30.0),
        ("Wed, 21 Oct 2015 07:28:30 +0000", 30.0),
        ("Wednesday, 21-Oct-15 07:28:30 GMT", 30.0),
        ("Wed Oct 21 07:28:30 2015", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
        ("Wed, 21 Oct 2016 07:28:00 GMT", MAX_RETRY_AFTER),
    ],
)
def test_retry_after_values(value: str, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "soon",
        "nan",
        "inf",
        "1e3",
        "0x10",
        "1,5",
        "12 s",
        "Wed, 32 Oct 2015 07:28:00 GMT",
    ],
)
def test_unreadable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None


@given(st.integers(min_value=0, max_value=int(MAX_RETRY_AFTER)))
def test_a_date_and_its_delta_agree(delta: int) -> None:
    date = email.utils.formatdate(NOW + delta, usegmt=True)
    assert parse_retry_after(date, now=NOW) == pytest.approx(delta)
    assert parse_retry_after(str(delta), now=NOW) == delta


@given(st.text(max_size=40))
def test_retry_after_never_raises_and_stays_in_range(value: str) -> None:
    seconds = parse_retry_after(value, now=NOW)
    assert seconds is None or 0.0 <= seconds <= MAX_RETRY_AFTER


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retryable_statuses(status: int) -> None:
    assert is_retryable(status)
    assert classify(status) is Outcome.RETRY


@pytest.mark.parametrize(
    "status", [400, 401, 403, 404, 405, 409, 410, 418, 422, 451, 501, 505, 301]
)
def test_final_statuses(status: int) -> None:
    assert not is_retryable(status)
    assert classify(status) is Outcome.FAIL


@pytest.mark.parametrize("status", [200, 201, 204])
def test_success(status: int) -> None:
    assert classify(status) is Outcome.SUCCESS
    assert not is_retryable(status)


def test_no_answer_is_retried() -> None:
    assert is_retryable(None)
    assert classify(None) is Outcome.RETRY


POLICY = RetryPolicy(max_retries=3, base=1.0, cap=8.0)


def judged(result: Result, retries: int = 0, max_pause: float | None = 120.0) -> Decision:
    return decide(result, retries=retries, policy=POLICY, rand=0.5, max_pause=max_pause)


@pytest.mark.parametrize("failure", [Failure.CONNECTION, Failure.TIMEOUT, Failure.BAD_BODY])
@pytest.mark.parametrize("status", [None, 200])
def test_every_fault_is_retried_with_backoff_whatever_the_status(
    failure: Failure, status: int | None
) -> None:
    decision = judged(Result(status=status, failure=failure), retries=1)
    assert decision == Decision(Outcome.RETRY, delay=POLICY.delay(2, 0.5))


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_is_retried_with_backoff(status: int) -> None:
    assert judged(Result(status=status)) == Decision(Outcome.RETRY, delay=0.5)


def test_a_429_is_retried_at_once_because_the_budget_holds_the_pause() -> None:
    assert judged(Result(status=429, pause=30.0)) == Decision(Outcome.RETRY, delay=0.0)


def test_a_429_pause_beyond_max_rate_limit_wait_fails_at_once() -> None:
    assert judged(Result(status=429, pause=3600.0)) == Decision(Outcome.FAIL, too_long=True)
    # Not beyond: retried. No bound: retried however long.
    assert judged(Result(status=429, pause=120.0)).outcome is Outcome.RETRY
    assert judged(Result(status=429, pause=3600.0), max_pause=None).outcome is Outcome.RETRY


def test_a_call_not_sent_for_a_long_pause_fails_at_once() -> None:
    decision = judged(Result(failure=Failure.PAUSED, pause=3000.0))
    assert decision == Decision(Outcome.FAIL, too_long=True)


@pytest.mark.parametrize("status", [400, 401, 404, 501, 301])
def test_a_final_status_fails_at_once(status: int) -> None:
    assert judged(Result(status=status)) == Decision(Outcome.FAIL)


def test_success_returns() -> None:
    assert judged(Result(status=200)) == Decision(Outcome.SUCCESS)


@given(
    status=st.sampled_from([None, 200, 429, 500, 503]),
    failure=st.sampled_from([None, Failure.CONNECTION, Failure.TIMEOUT, Failure.BAD_BODY]),
    retries=st.integers(min_value=0, max_value=10),
    pause=st.floats(min_value=0, max_value=4000),
)
def test_no_decision_retries_beyond_max_retries(
    status: int | None, failure: Failure | None, retries: int, pause: float
) -> None:
    if status is None and failure is None:
        failure = Failure.CONNECTION
    decision = judged(Result(status=status, failure=failure, pause=pause), retries=retries)
    if retries >= POLICY.max_retries:
        assert decision.outcome is not Outcome.RETRY
    if decision.outcome is Outcome.RETRY:
        assert 0.0 <= decision.delay <= POLICY.cap


@given(
    attempt=st.integers(min_value=1, max_value=10_000),
    base=st.floats(min_value=0, max_value=100),
    cap=st.floats(min_value=0, max_value=3600),
    rand=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_backoff_stays_within_its_ceiling(
    attempt: int, base: float, cap: float, rand: float
) -> None:
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 64))
    delay = backoff_delay(attempt, base=base, cap=cap, rand=rand)
    assert 0.0 <= delay <= ceiling
    assert delay <= cap


@given(
    attempt=st.integers(min_value=1, max_value=60),
    rand=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_backoff_never_shrinks_for_the_same_draw(attempt: int, rand: float) -> None:
    now = backoff_delay(attempt, base=0.5, cap=30.0, rand=rand)
    later = backoff_delay(attempt + 1, base=0.5, cap=30.0, rand=rand)
    assert later >= now


def test_backoff_doubles_up_to_the_cap() -> None:
    top = [backoff_delay(n, base=0.5, cap=30.0, rand=0.999999) for n in range(1, 10)]
    assert top == pytest.approx([0.5, 1, 2, 4, 8, 16, 30, 30, 30], rel=1e-5)
    assert backoff_delay(3, base=0.5, cap=30.0, rand=0.0) == 0.0
    assert backoff_delay(3, base=0.5, cap=30.0, rand=0.5) == 1.0


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "rand"),
    [
        (0, 0.5, 30.0, 0.5),
        (1, -1.0, 30.0, 0.5),
        (1, 0.5, -1.0, 0.5),
        (1, 0.5, 30.0, 1.0),
        (1, 0.5, 30.0, -0.1),
    ],
)
def test_backoff_refuses_nonsense(attempt: int, base: float, cap: float, rand: float) -> None:
    with pytest.raises(InvalidParameterError):
        backoff_delay(attempt, base=base, cap=cap, rand=rand)


def test_policy_counts_retries_after_the_first_attempt() -> None:
    policy = RetryPolicy()
    assert (policy.max_retries, policy.base, policy.cap) == (5, 0.5, 30.0)
    assert [policy.exhausted(n) for n in range(1, 7)] == [False] * 5 + [True]
    assert RetryPolicy(max_retries=0).exhausted(1)
    assert policy.delay(2, 0.5) == backoff_delay(2, base=0.5, cap=30.0, rand=0.5)
    assert RetryPolicy(base=0.0, cap=0.0).delay(5, 0.9) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"max_retries": 1.5},
        {"max_retries": True},
        {"base": -0.1},
        {"cap": float("inf")},
        {"base": float("nan")},
        {"cap": "1"},
    ],
)
def test_policy_refuses_nonsense(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidParameterError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]  # wrong types on purpose


def test_policy_is_frozen_and_pickles() -> None:
    policy = RetryPolicy(max_retries=2)
    with pytest.raises(AttributeError):
        policy.max_retries = 3  # type: ignore[misc]  # assigning to a frozen field on purpose
    assert pickle.loads(pickle.dumps(policy)) == policy  # noqa: S301 -- our own bytes
