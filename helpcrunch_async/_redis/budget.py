"""`RedisBudget`: one API key's cap shared by many processes and hosts through Redis.

Every process that points at the same Redis URL and key name shares one cap:
at most ``limit`` requests in any ``period`` seconds for all of them together,
every attempt counted. The rules are those of `_core.cap.Cap` (sliding log,
settling, pause, adaptation), kept in Redis and applied by Lua scripts, so each
decision is one atomic step on the server and two processes can never both
take the last slot. Settling is judged by each process from its own round
trips (`_core.cap.Settler`) and moves its entries in the shared log; each
answer's lateness also feeds the shared jitter estimate (rule 5).

This module is the I/O shell of the shared mode: it calls the scripts
(`_redis.scripts`, the Lua, run through `_redis.client`), talks to Redis and
sleeps; the fallback to a local share and the hand-over back are
`_redis.fallback.LocalFallback`, its base class; the shared/fallback/hand-over
mode machine and the local share are the pure `_redis.state.ModeState`, which
takes times as arguments.

The scripts use Redis ``TIME`` as the only clock: hosts' clocks differ, and the
stamps a budget hands out are Redis times. The keys (all under one ``{key}``
hash tag) are ``state`` (a hash: allowance, spacing, slack, the jitter
estimate, pause-until, adapted-at, streak, counters, an epoch id and the
log's offset), ``log`` (a sorted list of the last ``limit`` send times, each
less the offset, which moves them all at once), ``waiters`` and ``leases``
(sorted sets of tickets) and ``ticket`` (a counter). Every script call pushes
their expiry to ten windows past the last use (longer while a pause lasts),
so abandoned state cleans itself.

Fairness: a waiter that is not admitted at once takes a ticket from the
counter and joins ``waiters``. Its rank is the number of older tickets still
waiting; it is admitted only when the slot of its rank is free, that is when
there are more free slots than older waiters, and it is told to sleep until
that slot's estimated time. An admission therefore never takes the slot an
older waiter is owed, ranks only fall as older waiters are served, and every
waiter is served in ticket order up to the slots free at the same moment: no
process starves, however many tasks the others run. A waiter that died keeps
its rank only for its lease (its wait plus a second); a cancelled one removes
its ticket at once.

Faults: `connect` (or `check`, or ``async with``) raises
`RedisUnavailableError` when Redis cannot be reached at start. When Redis goes
away mid-run, the budget logs it once and falls back to a local sliding log of
``limit // fallback_workers`` requests per period (set ``fallback_workers`` to
the number of processes sharing the key), first waiting one window plus the
margin since the fault, and probing Redis before any fallback send once
``probe_interval`` has passed. When a probe succeeds it writes its recent sends
into the shared log, marks a shared hand-over in the state, and keeps its
fallback share as a second limit until every other process must have probed,
plus one window (`_core.shared_cap` gives the arithmetic and why the sum over
processes never exceeds the cap). Two more ways into the hand-over close the
gaps of a process that never noticed the fault (it was asleep or idle through
it): the acquire script refuses, with a verdict of its own, a process whose
known epoch is gone (Redis restarted and lost the log: it writes its own
recent sends back and hands over), and a process outside the hand-over while
one is marked (it keeps to its share until the mark ends).

What stays outside the guarantee: a partition that cuts some processes off
from a Redis the others still reach (the cut-off ones add their fallback
shares), and a process that first contacts Redis within one probe interval of
its return, before any process in fallback has rejoined and marked the
hand-over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import secrets
import time
from typing import TYPE_CHECKING, Self

from helpcrunch_async._core.cap import (
    CapSnapshot,
    Settler,
    default_margin,
)
from helpcrunch_async._core.params import (
    DEFAULT_BUDGET_KEY,
    DEFAULT_FALLBACK_WORKERS,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_PERIOD,
    check_rate,
    check_seconds,
)
from helpcrunch_async._core.shared_cap import (
    default_probe_interval,
    fallback_share,
    jitter_bound,
    key_names,
)
from helpcrunch_async._errors import RedisUnavailableError
from helpcrunch_async._redis import scripts
from helpcrunch_async._redis.client import _import_redis, _redact, _Script
from helpcrunch_async._redis.client import _text as _text  # noqa: PLC0414 -- re-exported (mypy's form): tests import it from here
from helpcrunch_async._redis.fallback import LocalFallback
from helpcrunch_async._redis.state import FALLBACK, HANDOVER, ModeState

if TYPE_CHECKING:
    from types import TracebackType

    from redis.asyncio import Redis

__all__ = ["RedisBudget"]

logger = logging.getLogger("helpcrunch_async")

# Seconds a waiter keeps its rank beyond the wait it was told.
_LEASE_GRACE = 1.0
# Settling a send by less than this is not worth a Redis round trip.
_SETTLE_FLOOR = 0.001


class RedisBudget(LocalFallback):
    """A rate budget shared by every process that uses the same Redis ``url`` and ``key``.

    At most ``limit`` requests leave in any ``period`` seconds for all of those
    processes together (``margin`` seconds added to each window, as in
    `LocalBudget`). Waiters are served in ticket order across processes, so no
    process starves. If Redis goes away mid-run each process falls back to
    ``limit // fallback_workers`` requests per period, so set
    ``fallback_workers`` to the number of processes sharing the key; it returns
    to the shared budget when Redis is back. ``probe_interval`` (default a
    quarter period, at most 5 s) is how often it asks; ``redis_timeout`` bounds every
    Redis call. Use `connect` or ``async with`` to fail fast when Redis cannot
    be reached, and `aclose` when done.
    """

    def __init__(
        self,
        url: str,
        key: str = DEFAULT_BUDGET_KEY,
        *,
        limit: int = DEFAULT_RATE_LIMIT,
        period: float = DEFAULT_RATE_PERIOD,
        margin: float | None = None,
        fallback_workers: int = DEFAULT_FALLBACK_WORKERS,
        probe_interval: float | None = None,
        redis_timeout: float = 2.0,
    ) -> None:
        aioredis, no_retry = _import_redis()
        limit, period, margin = check_rate(limit, period, margin)
        self._limit = limit
        self._period = period
        self._margin = default_margin(period) if margin is None else margin
        self._window = self._period + self._margin
        self._share = fallback_share(limit, fallback_workers)
        self._workers = fallback_workers
        self._probe_interval = (
            default_probe_interval(self._period)
            if probe_interval is None
            else check_seconds("probe_interval", probe_interval)
        )
        self._timeout = check_seconds("redis_timeout", redis_timeout)
        self._keys = list(key_names(key))
        self._key = key
        self._url = _redact(url)
        self._redis: Redis = aioredis.Redis.from_url(
            url,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
            retry=no_retry,
        )
        self._faults: tuple[type[BaseException], ...] = (
            aioredis.ConnectionError,
            aioredis.TimeoutError,
            OSError,
            TimeoutError,
        )

        def script(source: str) -> _Script:
            return _Script(self._redis, source, aioredis.ResponseError, key=key, url=self._url)

        self._acquire_script = script(scripts.ACQUIRE)
        self._success_script = script(scripts.ON_SUCCESS)
        self._limited_script = script(scripts.ON_RATE_LIMITED)
        self._rejoin_script = script(scripts.REJOIN)
        self._sent_script = script(scripts.ON_SENT)
        # The state's epoch as last seen: a new one means Redis lost the shared log.
        self._epoch: str | None = None
        # Shared, fallback or hand-over, and the local share: the pure part.
        self._state = ModeState(
            limit=limit,
            period=self._period,
            margin=self._margin,
            share=self._share,
            probe_interval=self._probe_interval,
            redis_timeout=self._timeout,
        )
        # Rule 2 of `_core.cap` (settling) on the shared log: this process's trips,
        # and its sends that left late, by the stamp handed out, until answered.
        self._settler = Settler(self._period)
        self._wire: dict[float, float] = {}
        # Each admitted send as the shared log holds it, by stamp, until answered;
        # and the move of every send (rule 2) not yet worth a Redis round trip.
        self._entries: dict[float, str] = {}
        self._shift = 0.0
        # Each answer's lateness, by stamp, from `on_answered` to the script that
        # records the answer (rule 5 of `_core.cap`).
        self._late: dict[float, float] = {}
        self._last_contact = -math.inf
        self._ttl = scripts.TTL_WINDOWS * self._window
        self._probe_lock: asyncio.Lock | None = None
        self._handover_lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return (
            f"RedisBudget({self._url!r}, key={self._key!r}, limit={self._limit}, "
            f"period={self._period}, mode={self.mode!r})"
        )

    @classmethod
    async def connect(
        cls,
        url: str,
        key: str = DEFAULT_BUDGET_KEY,
        *,
        limit: int = DEFAULT_RATE_LIMIT,
        period: float = DEFAULT_RATE_PERIOD,
        margin: float | None = None,
        fallback_workers: int = DEFAULT_FALLBACK_WORKERS,
        probe_interval: float | None = None,
        redis_timeout: float = 2.0,
    ) -> Self:
        """Create a budget and `check` that Redis answers; raise `RedisUnavailableError` if not."""
        budget = cls(
            url,
            key,
            limit=limit,
            period=period,
            margin=margin,
            fallback_workers=fallback_workers,
            probe_interval=probe_interval,
            redis_timeout=redis_timeout,
        )
        try:
            await budget.check()
        except BaseException:
            await budget.aclose()
            raise
        return budget

    async def check(self) -> None:
        """Ping Redis and load the scripts; raise `RedisUnavailableError` if it does not answer."""
        try:
            await self._redis.ping()
            for script in (
                self._acquire_script,
                self._success_script,
                self._limited_script,
                self._rejoin_script,
                self._sent_script,
            ):
                await self._redis.script_load(script.script)
        except self._faults as exc:
            raise RedisUnavailableError(
                f"the shared rate budget cannot reach Redis at {self._url}: {exc}"
            ) from exc

    async def aclose(self) -> None:
        """Close the connections to Redis; the shared state stays for the other processes."""
        await self._redis.aclose()

    async def __aenter__(self) -> Self:
        try:
            await self.check()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def limit(self) -> int:
        """Requests allowed per period, for all processes together."""
        return self._limit

    @property
    def period(self) -> float:
        """The period in seconds."""
        return self._period

    @property
    def margin(self) -> float:
        """Seconds added to every window."""
        return self._margin

    @property
    def mode(self) -> str:
        """``"shared"``, ``"fallback"`` (Redis unreachable) or ``"hand-over"`` (just back)."""
        return self._state.mode

    @property
    def fallbacks(self) -> int:
        """How many times this budget fell back to its local share."""
        return self._state.fallbacks

    async def snapshot(self) -> CapSnapshot:
        """Return the shared cap's decisions as read from Redis."""
        raw = await self._redis.hgetall(self._keys[0])
        state = {_text(k): _text(v) for k, v in raw.items()}
        return CapSnapshot(
            limit=self._limit,
            allowance=min(self._limit, int(state.get("allowance", self._limit))),
            spacing=float(state.get("spacing", 0.0)),
            pause_until=float(state.get("pause_until", -math.inf)),
            rate_limited=int(state.get("rate_limited", 0)),
            adaptations=int(state.get("adaptations", 0)),
        )

    # -- the protocol --------------------------------------------------------

    async def acquire(self) -> float:
        """Wait for a slot, record the send, return its stamp on the Redis clock."""
        while True:
            if self._state.mode == FALLBACK:
                stamp = await self._acquire_fallback()
                if stamp is not None:
                    return stamp
                continue
            try:
                self._state.end_handover_if_due(time.monotonic())
                if self._state.mode == HANDOVER:
                    stamp = await self._acquire_handover()
                else:
                    stamp = await self._acquire_shared(in_handover=False)
            except self._faults as exc:
                self._fall_back(exc)
                continue
            if stamp is not None:
                return stamp

    async def on_success(self, sent_at: float) -> None:
        """Record a non-429 answer in the shared state (or the local share in fallback)."""
        if self._state.mode != FALLBACK:
            try:
                await self._success_script(
                    keys=self._keys,
                    args=[*self._args(), repr(sent_at), self._lateness(sent_at)],
                )
            except self._faults as exc:
                self._fall_back(exc)
            else:
                return
        self._state.local_success(sent_at)

    async def on_sent(self, sent_at: float, delay: float) -> None:
        """Move the send stamped ``sent_at`` to when it reached the wire, ``delay`` s later."""
        if not delay > 0:  # also refuses NaN
            return
        if len(self._wire) >= self._limit:
            # Answers forget their stamps; these were never answered.
            self._wire.clear()
        self._wire[sent_at] = sent_at + delay
        # A stamp forgotten is looked up as the log held it before any offset (as `Cap` does).
        entry = self._entries.get(sent_at, repr(sent_at))
        if self._state.mode != FALLBACK:
            moved = await self._move_shared(entry, sent_at + delay)
            if moved:
                self._entries[sent_at] = moved
        self._state.local_sent(sent_at, delay)

    async def on_answered(self, sent_at: float, delay: float, rate_limited: bool) -> None:
        """Settle the send stamped ``sent_at``, answered ``delay`` s after its slot.

        Rule 2 of `_core.cap`: a round trip slower than this process's quickest may
        have been counted that much later, so its entry in the shared log moves.
        """
        left = self._wire.pop(sent_at, sent_at)
        entry: str | None = self._entries.pop(sent_at, repr(sent_at))
        late, shift = self._settler.settle(sent_at + delay - left, rate_limited=rate_limited)
        self._shift += shift
        if len(self._late) >= self._limit:
            # Recorded answers take their lateness; these never were.
            self._late.clear()
        self._late[sent_at] = late
        if late <= _SETTLE_FLOOR:
            entry = None
        if self._state.mode != FALLBACK and (entry is not None or self._shift > _SETTLE_FLOOR):
            # This one's lateness, and every send when this is the quickest trip yet.
            shift, self._shift = self._shift, 0.0
            await self._move_shared(entry, left + late, shift)
        self._state.local_answered(sent_at, delay, rate_limited)

    def _lateness(self, sent_at: float) -> str:
        """Return the answer's lateness for a script: '' when `on_answered` told none."""
        late = self._late.pop(sent_at, None)
        return "" if late is None else repr(late)

    def pause_left(self) -> float:
        """Return the seconds the latest 429's pause known to this process still lasts."""
        return self._state.pause_left(time.monotonic())

    async def _move_shared(self, entry: str | None, to: float, shift: float = 0.0) -> str:
        """Move every send ``shift`` s later, then the log's ``entry`` to the time ``to``.

        Returns the send's new entry ('' if it is not in the log, or Redis is gone).
        """
        args = [*self._args(), entry or "", repr(to), repr(shift)]
        try:
            return _text(await self._sent_script(keys=self._keys, args=args))
        except self._faults as exc:
            self._fall_back(exc)
        return ""

    async def on_rate_limited(self, sent_at: float, retry_after: float | None) -> float:
        """Record a 429 for every process; return the pause in seconds all of them now observe."""
        if self._state.mode != FALLBACK:
            try:
                reply = await self._limited_script(
                    keys=self._keys,
                    args=[
                        *self._args(),
                        repr(sent_at),
                        "" if retry_after is None else repr(float(retry_after)),
                        self._lateness(sent_at),
                    ],
                )
            except self._faults as exc:
                self._fall_back(exc)
            else:
                pause = float(reply[0])
                self._state.paused(time.monotonic(), pause)
                if int(reply[2]) != self._limit or float(reply[1]):
                    logger.debug(
                        "shared rate budget %r: pacing at one request every %s s (%d per %.1f s)",
                        self._key,
                        reply[1].decode(),
                        int(reply[2]),
                        self._period,
                    )
                return pause
        return self._state.local_rate_limited(time.monotonic(), sent_at, retry_after)

    # -- shared mode ---------------------------------------------------------

    def _args(self) -> list[str]:
        # A fresh epoch per call: a state this process recreates after a restart
        # must not carry the epoch it knew from before.
        return [str(self._limit), repr(self._period), repr(self._margin), secrets.token_hex(8)]

    async def _acquire_shared(self, *, in_handover: bool) -> float | None:
        """Wait in the shared queue and return the stamp; None after a forced hand-over."""
        ticket = 0
        fastest = self._settler.quickest
        quickest = repr(fastest) if math.isfinite(fastest) else ""
        try:
            while True:
                known = self._epoch or ""
                before = time.monotonic()
                reply = await self._acquire_script(
                    keys=self._keys,
                    args=[
                        *self._args(),
                        str(ticket),
                        repr(_LEASE_GRACE),
                        known,
                        "1" if in_handover else "0",
                        quickest,
                    ],
                )
                after = time.monotonic()
                verdict, value, ticket = int(reply[0]), float(reply[1]), int(reply[2])
                epoch = _text(reply[3])
                if verdict == scripts.STATE_LOST and after - self._last_contact > self._ttl:
                    # Nobody used the budget for its whole lifetime: it expired.
                    self._epoch = None
                    continue
                self._last_contact = after
                self._learn(float(reply[4]), float(reply[5]), before, after)
                if verdict in (scripts.STATE_LOST, scripts.HANDOVER_ON):
                    await self._forget(ticket)
                    ticket = 0
                    await self._join_handover(known, lost=verdict == scripts.STATE_LOST)
                    return None
                self._epoch = epoch
                if verdict == scripts.ADMITTED:
                    ticket = 0
                    self._state.admitted(after)
                    if len(self._entries) >= self._limit:
                        # Answers take their entries; the oldest was never answered.
                        del self._entries[next(iter(self._entries))]
                    self._entries[value] = _text(reply[7])
                    return value
                await asyncio.sleep(value + random.uniform(0.0, jitter_bound(value)))
        except asyncio.CancelledError:
            if ticket:
                await self._forget(ticket)
            raise

    def _learn(self, redis_now: float, pause_until: float, before: float, after: float) -> None:
        """Remember the clock offset and the pause from a script's reply."""
        self._state.learn(redis_now, pause_until, before, after)

    async def _forget(self, ticket: int) -> None:
        """Give up a cancelled waiter's place in the queue (best effort; its lease ends anyway)."""
        with contextlib.suppress(*self._faults):
            async with asyncio.timeout(self._timeout):
                await self._redis.zrem(self._keys[2], ticket)
                await self._redis.zrem(self._keys[3], ticket)
