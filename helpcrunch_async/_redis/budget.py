"""`RedisBudget`: one API key's cap shared by many processes and hosts through Redis.

Every process that points at the same Redis URL and key name shares one cap:
at most ``limit`` requests in any ``period`` seconds for all of them together,
every attempt counted. The rules are those of `_cap.Cap` (sliding log,
settling, pause, adaptation), kept in Redis and applied by Lua scripts, so each
decision is one atomic step on the server and two processes can never both
take the last slot. Settling is judged by each process from its own round
trips (`_cap.Settler`) and moves its entry in the shared log.

The scripts use Redis ``TIME`` as the only clock: hosts' clocks differ, and the
stamps a budget hands out are Redis times. The keys (all under one ``{key}``
hash tag) are ``state`` (a hash: allowance, spacing, pause-until, adapted-at,
streak, counters and an epoch id), ``log`` (a list of the last ``limit`` send
times), ``waiters`` and ``leases`` (sorted sets of tickets) and ``ticket`` (a
counter). Every script call pushes their expiry to ten windows past the last
use (longer while a pause lasts), so abandoned state cleans itself.

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
plus one window (`_shared_cap` gives the arithmetic and why the sum over
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
import urllib.parse
from collections import deque
from typing import TYPE_CHECKING, Any, Self

from helpcrunch_async._core.cap import (
    _DECREASE,
    _RECOVERY_FACTOR,
    _SLACK_FLOOR,
    _SLACK_MAX,
    _SLACK_START,
    Cap,
    CapSnapshot,
    Settler,
    default_margin,
)
from helpcrunch_async._core.shared_cap import (
    default_probe_interval,
    fallback_share,
    fallback_start,
    jitter_bound,
    key_names,
    rejoin_ages,
    transition_end,
)
from helpcrunch_async._errors import HelpCrunchError

if TYPE_CHECKING:
    from types import TracebackType

    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["RedisBudget", "RedisUnavailableError"]

logger = logging.getLogger("helpcrunch_async")

_INSTALL_HINT = "RedisBudget needs the redis package: pip install 'helpcrunch-async[redis]'"
# Windows of idleness after which the shared state expires.
_TTL_WINDOWS = 10
# Seconds a waiter keeps its rank beyond the wait it was told.
_LEASE_GRACE = 1.0
# Settling a send by less than this is not worth a Redis round trip.
_SETTLE_FLOOR = 0.001

_SHARED, _FALLBACK, _HANDOVER = "shared", "fallback", "hand-over"
# Verdicts of the acquire script.
_WAIT, _ADMITTED, _STATE_LOST, _HANDOVER_ON = 0, 1, 2, 3

# Shared by the scripts: parse the cap's state, format floats exactly, expire keys.
_PRELUDE = """
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local margin = tonumber(ARGV[3])
local window = period + margin
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function fmt(x) return string.format('%.17g', x) end
local st = redis.call('HMGET', KEYS[1], 'allowance', 'spacing', 'pause_until', 'adapted_at',
  'streak', 'clean', 'rate_limited', 'adaptations', 'epoch', 'handover_until', 'slack')
local allowance = math.min(tonumber(st[1]) or limit, limit)
local spacing = tonumber(st[2]) or 0
local pause_until = tonumber(st[3]) or -math.huge
local adapted_at = tonumber(st[4]) or -math.huge
local streak = tonumber(st[5]) or 0
local clean = tonumber(st[6]) or 0
local epoch = st[9]
local handover_until = tonumber(st[10]) or -math.huge
local slack = tonumber(st[11]) or 0
-- Cap._pacing_interval.
local function pacing()
  local share = period / allowance
  return math.max(share + math.max(share * slack, _SLACK_FLOOR), window / allowance)
end
if not epoch then
  epoch = ARGV[4]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
local function expire_all()
  local ttl = _TTL_WINDOWS * window
  if pause_until - now + window > ttl then ttl = pause_until - now + window end
  local ms = math.ceil(ttl * 1000)
  for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ms) end
end
"""

# ARGV: limit, period, margin, epoch, ticket (0: none yet), lease grace, the
# epoch the caller knows ('' if none), whether it is in a hand-over ('1'/'0').
# Returns {verdict, stamp or wait, ticket, epoch, now, pause_until, handover_until}:
# verdict 1 admitted, 0 wait, 2 the state was lost, 3 a hand-over is on.
_ACQUIRE = (
    _PRELUDE
    + """
local ticket = tonumber(ARGV[5])
local grace = tonumber(ARGV[6])
local function reply(verdict, value)
  return {verdict, fmt(value), ticket, epoch, fmt(now), fmt(pause_until), fmt(handover_until)}
end
-- The state the caller knew is gone (Redis restarted): it must write its own
-- recent sends back and hand over first, as if it had fallen back.
if ARGV[7] ~= '' and ARGV[7] ~= epoch then return reply(2, 0) end
-- Someone is back from a fallback: until its hand-over ends, everyone keeps
-- to a fallback share.
if ARGV[8] ~= '1' and now < handover_until then return reply(3, handover_until) end
local n = allowance
local recent = redis.call('LRANGE', KEYS[2], -n, -1)
local len = #recent
local last = nil
if len > 0 then last = tonumber(recent[len]) end
-- Times never go backwards, even if the server's clock does.
if last and now < last then now = last end

-- The earliest time of the (j+1)-th next send: Cap.next_paced_slot for j = 0,
-- an estimate for later ranks (one more window per round of n sends).
local function slot(j)
  local at = pause_until
  local rounds = math.floor(j / n)
  local idx = (j - rounds * n) - (n - len)
  if idx >= 0 then
    at = math.max(at, tonumber(recent[idx + 1]) + window * (rounds + 1))
  elseif rounds > 0 then
    at = math.max(at, now + window * rounds)
  end
  if spacing > 0 then
    if last then at = math.max(at, last + (j + 1) * spacing)
    else at = math.max(at, now + j * spacing) end
  end
  return at
end

local dead = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
for i = 1, #dead do
  redis.call('ZREM', KEYS[3], dead[i])
  redis.call('ZREM', KEYS[4], dead[i])
end
local rank
if ticket > 0 then
  rank = redis.call('ZCOUNT', KEYS[3], '-inf', '(' .. ticket)
else
  rank = redis.call('ZCARD', KEYS[3])
end
local at = slot(rank)
if at <= now then
  redis.call('RPUSH', KEYS[2], fmt(now))
  redis.call('LTRIM', KEYS[2], -limit, -1)
  if ticket > 0 then
    redis.call('ZREM', KEYS[3], ticket)
    redis.call('ZREM', KEYS[4], ticket)
  end
  expire_all()
  return reply(1, now)
end
if ticket == 0 then ticket = redis.call('INCR', KEYS[5]) end
redis.call('ZADD', KEYS[3], ticket, ticket)
redis.call('ZADD', KEYS[4], at + grace, ticket)
expire_all()
return reply(0, at - now)
"""
)

# ARGV: limit, period, margin, epoch, sent_at. Mirrors Cap.on_success.
_ON_SUCCESS = (
    _PRELUDE
    + """
local sent_at = tonumber(ARGV[5])
if sent_at < adapted_at then return 0 end
if streak ~= 0 then redis.call('HSET', KEYS[1], 'streak', 0) end
if allowance < limit or slack > _SLACK_START then
  clean = clean + 1
  if clean >= _RECOVERY_FACTOR * allowance then
    clean = 0
    if allowance < limit then
      allowance = math.min(limit, allowance + math.max(1, math.floor(limit / 10)))
    else
      slack = math.max(_SLACK_START, slack / 2)
    end
    spacing = pacing()
  end
  redis.call('HSET', KEYS[1], 'clean', clean, 'allowance', allowance, 'spacing', fmt(spacing),
    'slack', fmt(slack))
end
expire_all()
return 1
"""
)

# ARGV: limit, period, margin, epoch, sent_at, retry_after ('' when absent).
# Mirrors Cap.on_rate_limited; returns {pause, spacing, allowance, now}.
_ON_RATE_LIMITED = (
    _PRELUDE
    + """
local sent_at = tonumber(ARGV[5])
local retry_after = tonumber(ARGV[6])
clean = 0
if sent_at >= adapted_at then
  streak = streak + 1
  adapted_at = now
  if spacing == 0 then
    slack = _SLACK_START
  elseif slack < _SLACK_MAX then
    slack = math.min(_SLACK_MAX, 2 * slack)
  else
    allowance = math.max(1, math.floor(allowance * _DECREASE))
  end
  spacing = pacing()
  redis.call('HINCRBY', KEYS[1], 'adaptations', 1)
  redis.call('HSET', KEYS[1], 'adapted_at', fmt(adapted_at))
end
local pause
if retry_after and retry_after >= 0 then
  pause = retry_after
else
  pause = math.min(period, spacing * 2 ^ math.max(0, streak - 1))
end
pause = math.max(pause, spacing)
pause_until = math.max(pause_until, now + pause)
redis.call('HINCRBY', KEYS[1], 'rate_limited', 1)
redis.call('HSET', KEYS[1], 'clean', clean, 'streak', streak, 'allowance', allowance,
  'spacing', fmt(spacing), 'slack', fmt(slack), 'pause_until', fmt(pause_until))
expire_all()
return {fmt(pause_until - now), fmt(spacing), allowance, fmt(now)}
"""
)

# ARGV: limit, period, margin, epoch, known epoch, hand-over seconds, count of
# fallback ages, ages... Writes a rejoining process's recent sends into the log:
# its fallback sends, and its shared ones too when the state was lost (a new
# epoch); extends the shared hand-over. Returns {now, epoch, pause_until, handover_until}.
_REJOIN = (
    _PRELUDE
    + """
local same = (epoch == ARGV[5])
local nf = tonumber(ARGV[7])
local stamps = {}
for i = 8, #ARGV do
  if (i < 8 + nf) or not same then table.insert(stamps, now - tonumber(ARGV[i])) end
end
local extend = tonumber(ARGV[6])
if extend > 0 and now + extend > handover_until then
  handover_until = now + extend
  redis.call('HSET', KEYS[1], 'handover_until', fmt(handover_until))
end
if #stamps > 0 then
  local old = redis.call('LRANGE', KEYS[2], 0, -1)
  for i = 1, #old do table.insert(stamps, tonumber(old[i])) end
  table.sort(stamps)
  redis.call('DEL', KEYS[2])
  local first = math.max(1, #stamps - limit + 1)
  for i = first, #stamps do redis.call('RPUSH', KEYS[2], fmt(stamps[i])) end
end
expire_all()
return {fmt(now), epoch, fmt(pause_until), fmt(handover_until)}
"""
)


# ARGV: limit, period, margin, epoch, stamp, actual. Mirrors Cap.correct: a send
# that reached the wire late moves to when it left, and the log stays sorted.
_ON_SENT = (
    _PRELUDE
    + """
local stamp = tonumber(ARGV[5])
local actual = tonumber(ARGV[6])
-- Every path refreshes the expiry: the prelude may have just created the state.
if not (actual > stamp) then
  expire_all()
  return 0
end
-- Entries are compared as numbers: Python sends repr(), the log holds '%.17g',
-- and both parse back to the same double.
local entries = redis.call('LRANGE', KEYS[2], 0, -1)
local found = nil
for i = #entries, 1, -1 do
  if tonumber(entries[i]) == stamp then
    found = i
    break
  end
end
if not found then
  expire_all()
  return 0
end
table.remove(entries, found)
local j = #entries + 1
while j > 1 and tonumber(entries[j - 1]) > actual do j = j - 1 end
table.insert(entries, j, fmt(actual))
redis.call('DEL', KEYS[2])
-- In chunks: unpack() of a whole large log would overflow Lua's stack.
for i = 1, #entries, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(entries, i, math.min(i + 999, #entries)))
end
expire_all()
return 1
"""
)


def _with_constants(script: str) -> str:
    """Put the cap's constants into a script, so the scripts and `Cap` never drift apart."""
    for name, value in (
        ("_TTL_WINDOWS", _TTL_WINDOWS),
        ("_RECOVERY_FACTOR", _RECOVERY_FACTOR),
        ("_SLACK_START", _SLACK_START),
        ("_SLACK_MAX", _SLACK_MAX),
        ("_SLACK_FLOOR", _SLACK_FLOOR),
        ("_DECREASE", _DECREASE),
    ):
        script = script.replace(name, repr(value))
    return script


_ACQUIRE, _ON_SUCCESS, _ON_RATE_LIMITED, _REJOIN, _ON_SENT = map(
    _with_constants, (_ACQUIRE, _ON_SUCCESS, _ON_RATE_LIMITED, _REJOIN, _ON_SENT)
)


class RedisUnavailableError(HelpCrunchError):
    """The Redis server of a shared rate budget could not be reached at start."""


def _import_redis() -> tuple[Any, Any]:
    """Return ``redis.asyncio`` and a redis-py ``Retry`` that never retries."""
    try:
        import redis.asyncio as aioredis  # noqa: PLC0415 -- an optional extra, imported on use
        from redis.asyncio.retry import Retry  # noqa: PLC0415 -- same
        from redis.backoff import NoBackoff  # noqa: PLC0415 -- same
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    # One immediate retry on a broken connection (a pooled socket that died
    # while idle), none on a timeout: a real fault must surface at once, so the
    # fallback's clock starts when Redis stops answering.
    return aioredis, Retry(NoBackoff(), 1, supported_errors=(aioredis.ConnectionError,))


def _text(value: bytes | str) -> str:
    """Return a Redis reply as text (the client answers bytes unless told to decode)."""
    return value.decode() if isinstance(value, bytes) else value


def _redact(url: str) -> str:
    """Return ``url`` without its user name and password, for logs and errors."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class RedisBudget:
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
        key: str = "helpcrunch",
        *,
        limit: int = 120,
        period: float = 60.0,
        margin: float | None = None,
        fallback_workers: int = 4,
        probe_interval: float | None = None,
        redis_timeout: float = 2.0,
    ) -> None:
        aioredis, no_retry = _import_redis()
        # Cap validates limit, period and margin exactly as LocalBudget does.
        Cap(limit, period, margin=margin)
        self._limit = limit
        self._period = float(period)
        self._margin = float(default_margin(period) if margin is None else margin)
        self._window = self._period + self._margin
        self._share = fallback_share(limit, fallback_workers)
        self._workers = fallback_workers
        if probe_interval is None:
            probe_interval = default_probe_interval(self._period)
        if not (math.isfinite(probe_interval) and probe_interval > 0):
            raise ValueError(f"probe_interval must be a positive number, got {probe_interval!r}")
        if not (math.isfinite(redis_timeout) and redis_timeout > 0):
            raise ValueError(f"redis_timeout must be a positive number, got {redis_timeout!r}")
        self._probe_interval = float(probe_interval)
        self._timeout = float(redis_timeout)
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
        self._acquire_script: AsyncScript = self._redis.register_script(_ACQUIRE)
        self._success_script: AsyncScript = self._redis.register_script(_ON_SUCCESS)
        self._limited_script: AsyncScript = self._redis.register_script(_ON_RATE_LIMITED)
        self._rejoin_script: AsyncScript = self._redis.register_script(_REJOIN)
        self._sent_script: AsyncScript = self._redis.register_script(_ON_SENT)
        # The state's epoch as last seen: a new one means Redis lost the shared log.
        self._epoch: str | None = None
        self._mode = _SHARED
        # This process's recent sends: (monotonic time, sent in fallback).
        self._own: deque[tuple[float, bool]] = deque(maxlen=limit)
        # Redis time minus monotonic time, rounded late (see `_learn_clock`).
        self._offset = 0.0
        self._pause_mono = -math.inf
        self._local: Cap | None = None
        # Sends recorded in `_local`: (stamp handed out, monotonic time recorded).
        self._local_sends: deque[tuple[float, float]] = deque(maxlen=limit)
        # Rule 2 of `_cap` (settling) on the shared log: this process's trips,
        # and its sends that left late, by the stamp handed out, until answered.
        self._settler = Settler(self._period)
        self._wire: dict[float, float] = {}
        self._not_before = -math.inf
        self._next_probe = -math.inf
        self._handover_until = -math.inf
        self._last_contact = -math.inf
        self._ttl = _TTL_WINDOWS * self._window
        self._probe_lock: asyncio.Lock | None = None
        self._handover_lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self.fallbacks = 0
        """How many times this budget fell back to its local share."""

    def __repr__(self) -> str:
        return (
            f"RedisBudget({self._url!r}, key={self._key!r}, limit={self._limit}, "
            f"period={self._period}, mode={self._mode!r})"
        )

    @classmethod
    async def connect(
        cls,
        url: str,
        key: str = "helpcrunch",
        *,
        limit: int = 120,
        period: float = 60.0,
        margin: float | None = None,
        fallback_workers: int = 4,
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
        return self._mode

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
            if self._mode == _FALLBACK:
                stamp = await self._acquire_fallback()
                if stamp is not None:
                    return stamp
                continue
            try:
                if self._mode == _HANDOVER and time.monotonic() >= self._handover_until:
                    self._mode = _SHARED
                    self._local = None
                    self._local_sends.clear()
                if self._mode == _HANDOVER:
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
        if self._mode != _FALLBACK:
            try:
                await self._success_script(keys=self._keys, args=[*self._args(), repr(sent_at)])
            except self._faults as exc:
                self._fall_back(exc)
            else:
                return
        if self._local is not None:
            self._local.on_success(sent_at - self._offset)

    async def on_sent(self, sent_at: float, delay: float) -> None:
        """Move the send stamped ``sent_at`` to when it reached the wire, ``delay`` s later."""
        if not delay > 0:  # also refuses NaN
            return
        if len(self._wire) >= self._limit:
            # Answers forget their stamps; these were never answered.
            self._wire.clear()
        self._wire[sent_at] = sent_at + delay
        if self._mode != _FALLBACK:
            await self._move_shared(sent_at, sent_at + delay)
        local, at = self._local, self._local_time(sent_at)
        if local is not None and at is not None:
            local.correct(at, at + delay)

    async def on_answered(self, sent_at: float, delay: float, rate_limited: bool) -> None:
        """Settle the send stamped ``sent_at``, answered ``delay`` s after its slot.

        Rule 2 of `_cap`: a round trip slower than this process's quickest may
        have been counted that much later, so its entry in the shared log moves.
        """
        left = self._wire.pop(sent_at, sent_at)
        late = self._settler.late(sent_at + delay - left, rate_limited=rate_limited)
        if self._mode != _FALLBACK and late > _SETTLE_FLOOR:
            await self._move_shared(left, left + late)
        local, at = self._local, self._local_time(sent_at)
        if local is not None and at is not None:
            local.settle(at, at + delay, rate_limited=rate_limited)

    async def _move_shared(self, at: float, to: float) -> None:
        """Move the shared log's send at ``at`` to ``to`` (falls back if Redis is gone)."""
        try:
            await self._sent_script(keys=self._keys, args=[*self._args(), repr(at), repr(to)])
        except self._faults as exc:
            self._fall_back(exc)

    def _local_time(self, stamp: float) -> float | None:
        """Return when the local share recorded the send stamped ``stamp``, if it did."""
        # Found by the stamp handed out, never by converting the stamp back
        # (``now + offset - offset`` rarely gives ``now`` again).
        for handed, at in reversed(self._local_sends):
            if handed == stamp:
                return at
        return None

    async def on_rate_limited(self, sent_at: float, retry_after: float | None) -> float:
        """Record a 429 for every process; return the pause in seconds all of them now observe."""
        if self._mode != _FALLBACK:
            try:
                reply = await self._limited_script(
                    keys=self._keys,
                    args=[
                        *self._args(),
                        repr(sent_at),
                        "" if retry_after is None else repr(float(retry_after)),
                    ],
                )
            except self._faults as exc:
                self._fall_back(exc)
            else:
                pause = float(reply[0])
                self._pause_mono = max(self._pause_mono, time.monotonic() + pause)
                if int(reply[2]) != self._limit or float(reply[1]):
                    logger.debug(
                        "shared rate budget %r: pacing at one request every %s s (%d per %.1f s)",
                        self._key,
                        reply[1].decode(),
                        int(reply[2]),
                        self._period,
                    )
                return pause
        local = self._local
        if local is None:  # pragma: no cover -- fallback always has its share
            return 0.0
        now = time.monotonic()
        pause = local.on_rate_limited(now, sent_at - self._offset, retry_after)
        self._pause_mono = max(self._pause_mono, now + pause)
        return pause

    # -- shared mode ---------------------------------------------------------

    def _args(self) -> list[str]:
        # A fresh epoch per call: a state this process recreates after a restart
        # must not carry the epoch it knew from before.
        return [str(self._limit), repr(self._period), repr(self._margin), secrets.token_hex(8)]

    async def _acquire_shared(self, *, in_handover: bool) -> float | None:
        """Wait in the shared queue and return the stamp; None after a forced hand-over."""
        ticket = 0
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
                    ],
                )
                after = time.monotonic()
                verdict, value, ticket = int(reply[0]), float(reply[1]), int(reply[2])
                epoch = _text(reply[3])
                if verdict == _STATE_LOST and after - self._last_contact > self._ttl:
                    # Nobody used the budget for its whole lifetime: it expired.
                    self._epoch = None
                    continue
                self._last_contact = after
                self._learn(float(reply[4]), float(reply[5]), before, after)
                if verdict in (_STATE_LOST, _HANDOVER_ON):
                    await self._forget(ticket)
                    ticket = 0
                    await self._join_handover(known, lost=verdict == _STATE_LOST)
                    return None
                self._epoch = epoch
                if verdict == _ADMITTED:
                    ticket = 0
                    self._own.append((after, False))
                    return value
                await asyncio.sleep(value + random.uniform(0.0, jitter_bound(value)))
        except asyncio.CancelledError:
            if ticket:
                await self._forget(ticket)
            raise

    def _learn(self, redis_now: float, pause_until: float, before: float, after: float) -> None:
        """Remember the clock offset and the pause from a script's reply."""
        # Redis read its clock between `before` and `after`: mapping our
        # monotonic times with `before` makes them late, never early.
        self._offset = redis_now - before
        if pause_until > redis_now:
            self._pause_mono = max(self._pause_mono, after + (pause_until - redis_now))

    async def _forget(self, ticket: int) -> None:
        """Give up a cancelled waiter's place in the queue (best effort; its lease ends anyway)."""
        with contextlib.suppress(*self._faults):
            async with asyncio.timeout(self._timeout):
                await self._redis.zrem(self._keys[2], ticket)
                await self._redis.zrem(self._keys[3], ticket)

    # -- fallback and hand-over ----------------------------------------------

    def _fall_back(self, exc: BaseException) -> None:
        """Switch to the local share after a Redis fault (idempotent within one outage)."""
        if self._mode == _FALLBACK:
            return
        now = time.monotonic()
        if self._local is None:
            self._local = Cap(self._share, self._period, margin=self._margin)
        self._not_before = fallback_start(now, self._period, self._margin, self._pause_mono)
        self._next_probe = now + self._probe_interval
        self._mode = _FALLBACK
        self.fallbacks += 1
        logger.warning(
            "shared rate budget %r: Redis at %s is unreachable (%s); this process falls back "
            "to %d requests per %.1f s, starting in %.1f s, and returns when Redis is back",
            self._key,
            self._url,
            exc,
            self._share,
            self._period,
            self._not_before - now,
        )

    async def _acquire_fallback(self) -> float | None:
        """Take a slot of the local share; return None once Redis is back."""
        while self._mode == _FALLBACK:
            local = self._local
            assert local is not None  # noqa: S101 -- set by _fall_back, read by mypy
            now = time.monotonic()
            if now >= self._next_probe:
                # Rule 3 of _shared_cap: no fallback send without a recent failed probe.
                if await self._probe():
                    return None
                continue
            at = max(local.next_paced_slot(now), self._not_before, self._pause_mono)
            if at <= now:
                local.record(now)
                self._own.append((now, True))
                stamp = now + self._offset
                self._local_sends.append((stamp, now))
                return stamp
            await asyncio.sleep(min(at, self._next_probe) - now)
        return None

    async def _probe(self) -> bool:
        """Ask Redis whether it is back; on success rejoin and return True."""
        async with self._locks()[0]:
            if self._mode != _FALLBACK:
                return True
            if time.monotonic() < self._next_probe:
                return False
            # Drop the sockets of before the fault: each would fail once more.
            await self._redis.connection_pool.disconnect()
            try:
                await self._rejoin(self._epoch or "", extend=True)
            except self._faults as exc:
                self._next_probe = time.monotonic() + self._probe_interval
                logger.debug("shared rate budget %r: Redis still unreachable: %s", self._key, exc)
                return False
            logger.warning(
                "shared rate budget %r: Redis at %s is back; this process rejoins the shared "
                "budget (keeping to its fallback share for another %.1f s)",
                self._key,
                self._url,
                self._handover_until - time.monotonic(),
            )
            return True

    async def _join_handover(self, known: str, *, lost: bool) -> None:
        """Hand over as a process back from fallback does, when Redis says so.

        ``lost``: Redis lost the state this process knew (it restarted), so its
        own recent sends go back into the log and a hand-over starts; else
        another process is back from a fallback and this one keeps to its share
        until that hand-over ends.
        """
        async with self._locks()[0]:
            if self._epoch != (known or None) or (not lost and self._mode == _HANDOVER):
                return  # another task of this process did it meanwhile
            await self._rejoin(known, extend=lost)
            logger.warning(
                "shared rate budget %r: %s; this process keeps to its fallback share "
                "(%d per %.1f s) for another %.1f s",
                self._key,
                "Redis lost the shared state (restarted?)"
                if lost
                else "another process is back from a fallback",
                self._share,
                self._period,
                self._handover_until - time.monotonic(),
            )

    async def _rejoin(self, known: str, *, extend: bool) -> None:
        """Write this process's recent sends into the shared log and start a hand-over."""
        before = time.monotonic()
        fallback, shared = rejoin_ages(self._own, before, self._window)
        duration = transition_end(
            0.0, self._probe_interval, self._timeout, self._period, self._margin
        )
        reply = await self._rejoin_script(
            keys=self._keys,
            args=[
                *self._args(),
                known,
                repr(duration if extend else 0.0),
                str(len(fallback)),
                *(repr(a) for a in fallback + shared),
            ],
        )
        after = time.monotonic()
        redis_now, shared_until = float(reply[0]), float(reply[3])
        self._epoch = _text(reply[1])
        self._last_contact = after
        self._learn(redis_now, float(reply[2]), before, after)
        until = after + (shared_until - redis_now) if shared_until > redis_now else after
        if extend:
            until = max(until, after + duration)
        self._handover_until = until
        if self._local is None:
            # Never fell back: the share starts from this process's own recent sends.
            self._local = Cap(self._share, self._period, margin=self._margin)
            for at, _ in self._own:
                if at >= before - self._window:
                    self._local.record(at)
        self._mode = _HANDOVER

    async def _acquire_handover(self) -> float | None:
        """Take a shared slot that also fits this process's fallback share."""
        async with self._locks()[1]:
            local = self._local
            if self._mode != _HANDOVER or local is None:
                # The hand-over ended (or failed) while this task waited for the lock.
                return await self._acquire_shared(in_handover=False)
            while True:
                now = time.monotonic()
                at = local.next_paced_slot(now)
                if at <= now:
                    break
                await asyncio.sleep(at - now)
            stamp = await self._acquire_shared(in_handover=True)
            if stamp is not None:
                at = time.monotonic()
                local.record(at)
                self._local_sends.append((stamp, at))
            return stamp

    def _locks(self) -> tuple[asyncio.Lock, asyncio.Lock]:
        loop = asyncio.get_running_loop()
        if self._lock_loop is not loop or self._probe_lock is None or self._handover_lock is None:
            # An asyncio.Lock belongs to the loop that first waits on it.
            self._lock_loop = loop
            self._probe_lock = asyncio.Lock()
            self._handover_lock = asyncio.Lock()
        return self._probe_lock, self._handover_lock
