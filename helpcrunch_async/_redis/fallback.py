"""The fallback of a `RedisBudget` to a local share while Redis is away, and its hand-over back.

`LocalFallback` is the part of `RedisBudget` that runs when Redis stops
answering: it logs the fault once, takes slots of the local share
(``limit // fallback_workers`` per period, kept by the pure
`_redis.state.ModeState`), probes Redis before any fallback send once the probe
interval has passed, and on its return writes this process's recent sends into
the shared log and keeps to its share through the hand-over
(`_core.shared_cap` gives the arithmetic). `RedisBudget` inherits it; the
attributes and methods it names below are the budget's own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from helpcrunch_async._redis.client import _text
from helpcrunch_async._redis.state import FALLBACK, HANDOVER, ModeState

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from helpcrunch_async._redis.client import _Script

__all__ = ["LocalFallback"]

logger = logging.getLogger("helpcrunch_async")


class LocalFallback:
    """The fallback and hand-over half of `RedisBudget` (a base class, not used alone)."""

    _state: ModeState
    _redis: Redis
    _rejoin_script: _Script
    _faults: tuple[type[BaseException], ...]
    _keys: list[str]
    _key: str
    _url: str
    _share: int
    _period: float
    _epoch: str | None
    _last_contact: float
    _probe_lock: asyncio.Lock | None
    _handover_lock: asyncio.Lock | None
    _lock_loop: asyncio.AbstractEventLoop | None

    if TYPE_CHECKING:
        # Declared for mypy only: `RedisBudget` (the shared mode) defines them.

        def _args(self) -> list[str]: ...

        def _learn(
            self, redis_now: float, pause_until: float, before: float, after: float
        ) -> None: ...

        async def _acquire_shared(self, *, in_handover: bool) -> float | None: ...

    def _fall_back(self, exc: BaseException) -> None:
        """Switch to the local share after a Redis fault (idempotent within one outage)."""
        now = time.monotonic()
        if not self._state.fall_back(now):
            return
        logger.warning(
            "shared rate budget %r: Redis at %s is unreachable (%s); this process falls back "
            "to %d requests per %.1f s, starting in %.1f s, and returns when Redis is back",
            self._key,
            self._url,
            exc,
            self._share,
            self._period,
            self._state.not_before - now,
        )

    async def _acquire_fallback(self) -> float | None:
        """Take a slot of the local share; return None once Redis is back."""
        while self._state.mode == FALLBACK:
            now = time.monotonic()
            if self._state.due_to_probe(now):
                # Rule 3 of _core.shared_cap: no fallback send without a recent failed probe.
                if await self._probe():
                    return None
                continue
            stamp, wait = self._state.fallback_slot(now)
            if stamp is not None:
                return stamp
            await asyncio.sleep(wait)
        return None

    async def _probe(self) -> bool:
        """Ask Redis whether it is back; on success rejoin and return True."""
        async with self._locks()[0]:
            if self._state.mode != FALLBACK:
                return True
            if not self._state.due_to_probe(time.monotonic()):
                return False
            # Drop the sockets of before the fault: each would fail once more.
            await self._redis.connection_pool.disconnect()
            try:
                await self._rejoin(self._epoch or "", extend=True)
            except self._faults as exc:
                self._state.probe_failed(time.monotonic())
                logger.debug("shared rate budget %r: Redis still unreachable: %s", self._key, exc)
                return False
            logger.warning(
                "shared rate budget %r: Redis at %s is back; this process rejoins the shared "
                "budget (keeping to its fallback share for another %.1f s)",
                self._key,
                self._url,
                self._state.handover_until - time.monotonic(),
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
            if self._epoch != (known or None) or (not lost and self._state.mode == HANDOVER):
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
                self._state.handover_until - time.monotonic(),
            )

    async def _rejoin(self, known: str, *, extend: bool) -> None:
        """Write this process's recent sends into the shared log and start a hand-over."""
        before = time.monotonic()
        fallback, shared = self._state.rejoin_ages(before)
        duration = self._state.handover_seconds()
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
        self._state.rejoined(
            before=before,
            after=after,
            redis_now=redis_now,
            shared_until=shared_until,
            extend=extend,
        )

    async def _acquire_handover(self) -> float | None:
        """Take a shared slot that also fits this process's fallback share."""
        async with self._locks()[1]:
            if self._state.mode != HANDOVER:
                # The hand-over ended (or failed) while this task waited for the lock.
                return await self._acquire_shared(in_handover=False)
            while True:
                wait = self._state.handover_wait(time.monotonic())
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            stamp = await self._acquire_shared(in_handover=True)
            if stamp is not None:
                self._state.handover_sent(stamp, time.monotonic())
            return stamp

    def _locks(self) -> tuple[asyncio.Lock, asyncio.Lock]:
        loop = asyncio.get_running_loop()
        if self._lock_loop is not loop or self._probe_lock is None or self._handover_lock is None:
            # An asyncio.Lock belongs to the loop that first waits on it.
            self._lock_loop = loop
            self._probe_lock = asyncio.Lock()
            self._handover_lock = asyncio.Lock()
        return self._probe_lock, self._handover_lock
