"""The rule table of `_core.writes`, row by row, and the transport's "never left" over a socket."""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from helpcrunch_async._core.retry import Failure, Result, RetryPolicy, decide
from helpcrunch_async._core.secret import Secret
from helpcrunch_async._core.writes import (
    CLOCK_SKEW,
    CREATE_PATHS,
    Effect,
    Resolution,
    Step,
    created_within,
    decide_write,
    effect_of,
    resolve,
    unknown_fate,
)
from helpcrunch_async._shell.budget import LocalBudget
from helpcrunch_async._shell.transport import Transport
from helpcrunch_async.testing import Emulator, Faults

POLICY = RetryPolicy(max_retries=3, base=0.0, cap=0.0)
STATUSES = st.sampled_from([200, 201, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504, 505])
FAILURES = st.sampled_from(list(Failure))
RESULTS = st.one_of(
    st.builds(Result, status=STATUSES),
    st.builds(Result, failure=FAILURES, pause=st.floats(0, 10)),
    st.builds(Result, status=st.just(200), failure=st.just(Failure.BAD_BODY)),
)


def write(result: Result, *, effect: Effect, deletes: bool = False, unknown: bool = False) -> Step:
    return decide_write(
        result,
        effect=effect,
        deletes=deletes,
        retries=0,
        policy=POLICY,
        rand=0.5,
        max_pause=None,
        unknown_before=unknown,
    ).step


@given(result=RESULTS, deletes=st.booleans())
def test_rule_1_repeatable_writes_are_decided_as_reads(result: Result, *, deletes: bool) -> None:
    if deletes and result.status == 404:
        return  # rule 2 below
    read = decide(result, retries=0, policy=POLICY, rand=0.5, max_pause=None)
    got = decide_write(
        result,
        effect=Effect.REPEATABLE,
        deletes=deletes,
        retries=0,
        policy=POLICY,
        rand=0.5,
        max_pause=None,
        unknown_before=True,
    )
    assert got.step.value == read.outcome.value
    assert got.delay == read.delay


def test_rule_2_a_delete_whose_retry_meets_404_after_an_unknown_fate_succeeded() -> None:
    gone = Result(status=404)
    assert write(gone, effect=Effect.REPEATABLE, deletes=True, unknown=True) is Step.SUCCESS
    assert write(gone, effect=Effect.REPEATABLE, deletes=True, unknown=False) is Step.FAIL
    # A PATCH, or a DELETE of tags, meeting 404 found the customer gone: an error.
    assert write(gone, effect=Effect.REPEATABLE, deletes=False, unknown=True) is Step.FAIL


@pytest.mark.parametrize(
    "result",
    [Result(failure=Failure.NOT_SENT), Result(status=429, pause=1.0)],
    ids=["never-left", "429"],
)
def test_rule_3_a_create_is_sent_again_only_when_provably_unprocessed(result: Result) -> None:
    assert write(result, effect=Effect.CREATE) is Step.RETRY


@pytest.mark.parametrize(
    "result",
    [
        Result(failure=Failure.TIMEOUT),
        Result(failure=Failure.CONNECTION),
        Result(status=500),
        Result(status=502),
        Result(status=503),
        Result(status=504),
        Result(status=200, failure=Failure.BAD_BODY),
        Result(status=201, failure=Failure.TOO_LARGE),
        Result(status=500, failure=Failure.TOO_LARGE),
    ],
    ids=[
        "timeout",
        "dropped",
        "500",
        "502",
        "503",
        "504",
        "2xx-damaged",
        "2xx-too-large",
        "5xx-too-large",
    ],
)
def test_rule_4_any_other_failure_of_a_create_is_read_back(result: Result) -> None:
    decision = decide_write(
        result,
        effect=Effect.CREATE,
        deletes=False,
        retries=0,
        policy=POLICY,
        rand=0.5,
        max_pause=None,
        unknown_before=False,
    )
    assert decision.step is Step.READ_BACK
    two_hundred = result.status is not None and 200 <= result.status < 300
    assert decision.applied is (result.failure is not None and two_hundred)


@given(result=RESULTS)
def test_a_create_is_never_retried_blind(result: Result) -> None:
    step = write(result, effect=Effect.CREATE)
    if step is Step.RETRY:
        assert result.failure is Failure.NOT_SENT or result.status == 429
    if unknown_fate(result):
        assert step is Step.READ_BACK


@pytest.mark.parametrize(
    ("readable", "found", "applied", "retries", "expected"),
    [
        (True, True, False, 0, Resolution.FOUND),
        (True, True, True, 0, Resolution.FOUND),
        (True, False, False, 0, Resolution.SEND_AGAIN),
        (True, False, False, 3, Resolution.GIVE_UP),
        (True, False, True, 0, Resolution.AMBIGUOUS),
        (False, False, False, 0, Resolution.AMBIGUOUS),
        (False, False, True, 0, Resolution.AMBIGUOUS),
    ],
)
def test_rule_5_what_a_read_back_means(
    *, readable: bool, found: bool, applied: bool, retries: int, expected: Resolution
) -> None:
    got = resolve(readable=readable, found=found, applied=applied, retries=retries, policy=POLICY)
    assert got is expected


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_rule_6_a_refusal_ends_the_call(status: int) -> None:
    assert write(Result(status=status), effect=Effect.CREATE) is Step.FAIL


@given(
    sent=st.floats(1e9, 2e9),
    offset=st.floats(-3 * CLOCK_SKEW, 3600),
    whole=st.booleans(),
)
def test_rule_7_a_creation_time_in_whole_seconds_or_ms_is_matched_from_the_send_on(
    sent: float, offset: float, whole: bool
) -> None:
    created = sent + offset
    stamped: float = math.floor(created) if whole else math.floor(created * 1000) / 1000
    if created >= sent - CLOCK_SKEW:
        assert created_within(stamped, sent=sent)  # a server clock ahead is no reason to miss it
    if created < math.floor(sent - CLOCK_SKEW):
        assert not created_within(stamped, sent=sent)
    assert not created_within(None, sent=sent)


@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]), path=st.text())
def test_only_a_post_to_a_create_path_creates(method: str, path: str) -> None:
    creates = method == "POST" and path in CREATE_PATHS
    assert (effect_of(method, path) is Effect.CREATE) is creates
    for create_path in CREATE_PATHS:
        assert effect_of("POST", create_path) is Effect.CREATE
    assert effect_of("POST", "/customers/search") is Effect.REPEATABLE


async def test_the_transport_says_a_refused_connection_never_left() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now: connecting is refused.
    transport = Transport(
        budget=LocalBudget(100, 1.0), timeout=2.0, secret=Secret("k"), user_agent="t"
    )
    try:
        answer = await transport.send("POST", URL(f"http://127.0.0.1:{port}/v1/customers"), b"{}")
    finally:
        await transport.aclose()
    assert answer.failure is Failure.NOT_SENT
    assert answer.status is None


async def test_the_transport_says_a_connect_that_timed_out_never_left() -> None:
    # A listening socket whose accept queue is full: Linux drops further SYNs, so
    # connecting hangs until the attempt's timeout, before a byte of the request left.
    server = socket.socket()
    fillers: list[socket.socket] = []
    transport = Transport(
        budget=LocalBudget(100, 1.0), timeout=0.3, secret=Secret("k"), user_agent="t"
    )
    try:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        for _ in range(4):
            filler = socket.socket()
            filler.settimeout(0.0)  # non-blocking: the connect is left in flight
            fillers.append(filler)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        await asyncio.sleep(0.05)
        answer = await transport.send("POST", URL(f"http://127.0.0.1:{port}/v1/x"), b"{}")
    finally:
        await transport.aclose()
        for filler in fillers:
            filler.close()
        server.close()
    assert answer.failure is Failure.NOT_SENT


async def test_the_transport_says_a_request_sent_and_unanswered_may_have_arrived() -> None:
    async with Emulator(customers=1, faults=Faults(fail={1: "hang"}, hang=5.0)) as emu:
        transport = Transport(
            budget=LocalBudget(100, 1.0), timeout=0.3, secret=Secret("k"), user_agent="t"
        )
        try:
            answer = await transport.send("POST", URL(emu.base_url + "/customers"), b"{}")
        finally:
            await transport.aclose()
        assert answer.failure is Failure.TIMEOUT
        assert len(emu.log) == 1
