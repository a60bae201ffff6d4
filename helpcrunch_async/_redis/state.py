"""The mode machine of `RedisBudget`: shared, fallback, hand-over, and the local share.

This module is pure: it imports neither asyncio nor redis, never reads a clock
and never sleeps. Every method takes the current time (``time.monotonic()`` of
the process, read by the shell) as an argument, so every transition is tested
without a redis-server; `_redis.budget` does the I/O and waits on the answers.
The arithmetic behind each rule (share, quarantine, probe, hand-over) is
`_core.shared_cap`'s; this object keeps the state it acts on:

- ``shared``: every slot comes from Redis; this process only remembers its own
  recent sends (`admitted`), to write them back if it ever has to.
- ``fallback`` (`fall_back`): Redis failed. Slots come from a local `Cap` of
  ``limit // fallback_workers``, none before one window plus the margin since
  the fault, and none unless Redis was probed within ``probe_interval``
  (`fallback_slot` says when to probe).
- ``hand-over`` (`rejoined`): Redis is back, or another process is. Slots come
  from Redis *and* must fit the local share, until `handover_until`; then
  `end_handover_if_due` returns to ``shared``.

Times handed out as stamps are on the Redis clock: ``offset`` is Redis time
minus this process's monotonic time, rounded late (see `learn`).
"""

from __future__ import annotations

import math
from collections import deque

from helpcrunch_async._core.cap import Cap
from helpcrunch_async._core.shared_cap import fallback_start, rejoin_ages, transition_end

__all__ = ["FALLBACK", "HANDOVER", "SHARED", "ModeState"]

SHARED, FALLBACK, HANDOVER = "shared", "fallback", "hand-over"


class ModeState:
    """Which mode a shared budget is in, and the local share it keeps for the other two."""

    def __init__(
        self,
        *,
        limit: int,
        period: float,
        margin: float,
        share: int,
        probe_interval: float,
        redis_timeout: float,
    ) -> None:
        self.limit = limit
        self.period = period
        self.margin = margin
        self.window = period + margin
        self.share = share
        self.probe_interval = probe_interval
        self.redis_timeout = redis_timeout
        self.mode = SHARED
        self.fallbacks = 0
        """How many times this process fell back to its local share."""
        # Redis time minus monotonic time, rounded late (see `learn`).
        self.offset = 0.0
        # The latest 429 pause known to this process, on its monotonic clock.
        self.pause_until = -math.inf
        self.not_before = -math.inf
        self.next_probe = -math.inf
        self.handover_until = -math.inf
        self.local: Cap | None = None
        # This process's recent sends: (monotonic time, sent in fallback).
        self._own: deque[tuple[float, bool]] = deque(maxlen=limit)
        # Sends recorded in `local`: (stamp handed out, monotonic time recorded).
        self._local_sends: deque[tuple[float, float]] = deque(maxlen=limit)

    # -- the clock -----------------------------------------------------------

    def learn(self, redis_now: float, pause_until: float, before: float, after: float) -> None:
        """Remember the clock offset and the pause from a script's reply read in [before, after]."""
        # Redis read its clock between `before` and `after`: mapping our
        # monotonic times with `before` makes them late, never early.
        self.offset = redis_now - before
        if pause_until > redis_now:
            self.pause_until = max(self.pause_until, after + (pause_until - redis_now))

    def paused(self, now: float, pause: float) -> None:
        """Remember that every request pauses ``pause`` seconds from ``now``."""
        self.pause_until = max(self.pause_until, now + pause)

    def pause_left(self, now: float) -> float:
        """Return the seconds the latest known pause still lasts at ``now``."""
        return max(0.0, self.pause_until - now)

    # -- shared --------------------------------------------------------------

    def admitted(self, now: float) -> None:
        """Record a shared slot this process took at ``now``."""
        self._own.append((now, False))

    def end_handover_if_due(self, now: float) -> None:
        """Return to ``shared`` once the hand-over has lasted its time."""
        if self.mode == HANDOVER and now >= self.handover_until:
            self.mode = SHARED
            self.local = None
            self._local_sends.clear()

    # -- fallback ------------------------------------------------------------

    def fall_back(self, now: float) -> bool:
        """Switch to the local share after a Redis fault at ``now``; False if already there."""
        if self.mode == FALLBACK:
            return False
        if self.local is None:
            self.local = Cap(self.share, self.period, margin=self.margin)
        self.not_before = fallback_start(now, self.period, self.margin, self.pause_until)
        self.next_probe = now + self.probe_interval
        self.mode = FALLBACK
        self.fallbacks += 1
        return True

    def due_to_probe(self, now: float) -> bool:
        """Return whether a process in fallback must probe Redis before any send at ``now``."""
        return self.mode == FALLBACK and now >= self.next_probe

    def probe_failed(self, now: float) -> None:
        """Record a probe that found Redis still down at ``now``."""
        self.next_probe = now + self.probe_interval

    def fallback_slot(self, now: float) -> tuple[float | None, float]:
        """Take a slot of the local share at ``now``: ``(stamp, 0)`` or ``(None, seconds to wait)``.

        The wait ends no later than the next probe; a wait of 0 with no stamp
        means: probe first (`due_to_probe`).
        """
        local = self.local
        if self.mode != FALLBACK or local is None:
            return None, 0.0
        if self.due_to_probe(now):
            return None, 0.0
        at = max(local.next_paced_slot(now), self.not_before, self.pause_until)
        if at > now:
            return None, min(at, self.next_probe) - now
        local.record(now)
        self._own.append((now, True))
        stamp = now + self.offset
        self._local_sends.append((stamp, now))
        return stamp, 0.0

    # -- hand-over -----------------------------------------------------------

    def handover_seconds(self) -> float:
        """Return how long a hand-over lasts from the moment of rejoining."""
        return transition_end(
            0.0, self.probe_interval, self.redis_timeout, self.period, self.margin
        )

    def rejoin_ages(self, now: float) -> tuple[list[float], list[float]]:
        """Return this process's recent sends as ages for the shared log, fallback sends first."""
        return rejoin_ages(self._own, now, self.window)

    def rejoined(
        self, *, before: float, after: float, redis_now: float, shared_until: float, extend: bool
    ) -> None:
        """Enter the hand-over after the rejoin script answered (read in ``[before, after]``).

        ``shared_until`` is the shared hand-over mark on the Redis clock;
        ``extend`` says this process started (or lengthened) it, so it keeps
        to its share for at least `handover_seconds`.
        """
        until = after + (shared_until - redis_now) if shared_until > redis_now else after
        if extend:
            until = max(until, after + self.handover_seconds())
        self.handover_until = until
        if self.local is None:
            # Never fell back: the share starts from this process's own recent sends.
            # The shared state asks whether the server takes bursts (rule 6), not the share.
            self.local = Cap(self.share, self.period, margin=self.margin, bursts=True)
            for at, _ in self._own:
                if at >= before - self.window:
                    self.local.record(at)
        self.mode = HANDOVER

    def handover_wait(self, now: float) -> float:
        """Return how long the local share holds a hand-over send at ``now`` (0: go)."""
        if self.local is None:
            return 0.0
        return max(0.0, self.local.next_paced_slot(now) - now)

    def handover_sent(self, stamp: float, now: float) -> None:
        """Record in the local share a shared slot stamped ``stamp`` taken in the hand-over."""
        if self.local is not None:
            self.local.record(now)
            self._local_sends.append((stamp, now))

    # -- the local share's view of each answer --------------------------------

    def local_time(self, stamp: float) -> float | None:
        """Return when the local share recorded the send stamped ``stamp``, if it did."""
        # Found by the stamp handed out, never by converting the stamp back
        # (``now + offset - offset`` rarely gives ``now`` again).
        for handed, at in reversed(self._local_sends):
            if handed == stamp:
                return at
        return None

    def local_sent(self, stamp: float, delay: float) -> None:
        """Move the local share's send stamped ``stamp`` to ``delay`` seconds later."""
        local, at = self.local, self.local_time(stamp)
        if local is not None and at is not None:
            local.correct(at, at + delay)

    def local_answered(self, stamp: float, delay: float, rate_limited: bool) -> None:
        """Settle the local share's send stamped ``stamp``, answered ``delay`` s after its slot."""
        local, at = self.local, self.local_time(stamp)
        if local is not None and at is not None:
            local.settle(at, at + delay, rate_limited=rate_limited)

    def local_success(self, stamp: float) -> None:
        """Record a non-429 answer in the local share."""
        if self.local is not None:
            self.local.on_success(stamp - self.offset)

    def local_rate_limited(self, now: float, stamp: float, retry_after: float | None) -> float:
        """Record a 429 in the local share at ``now``; return the pause every request observes."""
        if self.local is None:
            return 0.0
        pause = self.local.on_rate_limited(now, stamp - self.offset, retry_after)
        self.paused(now, pause)
        return pause
