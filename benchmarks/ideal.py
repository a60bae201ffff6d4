"""The ideal schedule: when each request of a scan could at best be accepted.

Pure arithmetic, no clock and no I/O. The ideal client knows the server's rate
policy exactly (its window type, its limits, the phase of its clock window) and
sends each request at the earliest moment it would be accepted, given the same
constraints as a real scan:

1. The first page is fetched alone: nothing else is known until ``total`` arrives,
   one ``latency`` later.
2. After that, up to ``concurrency`` requests are in flight; a request holds its
   slot for ``latency`` seconds.
3. Request ``k`` leaves at the earliest time that is both after a slot is free and
   admissible under the policy given the requests accepted before it. Arrival is
   taken to be instantaneous (loopback), so the send time is the arrival time.

Greedy is optimal here: every constraint is monotone (an earlier send never makes a
later one later), so sending each request as early as possible minimises every
completion time, the last one included. The wall time is when the last answer is
back: the last send plus ``latency``.

Admission rules (R requests per W seconds), the same as the emulator's:

- ``sliding``: request ``k >= R`` no earlier than request ``k - R`` plus W.
- ``fixed``: at most R per clock window; ``phase`` is how far into its clock window
  the first request lands (0 is the luckiest start, just as a window opens).
- ``token-bucket``: capacity R, full at the start, refilled at R/W per second.
- ``no-burst``: request ``k >= 1`` no earlier than request ``k - 1`` plus W/R.
- ``none``: no limit at all.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

__all__ = ["POLICIES", "Schedule", "ideal_schedule", "sequential_wall"]

POLICIES = ("sliding", "fixed", "token-bucket", "no-burst", "none")

# Float noise: a refill computed to land exactly on one token may land a hair short.
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Schedule:
    """An ideal schedule: each request's send (= acceptance) time and the wall time.

    Times are seconds from the first request's send.
    """

    sends: tuple[float, ...]
    wall: float

    @property
    def throughput(self) -> float:
        """Requests per second over the wall time."""
        return len(self.sends) / self.wall if self.wall > 0 else math.inf


def ideal_schedule(
    policy: str,
    *,
    limit: int,
    period: float,
    pages: int,
    concurrency: int,
    latency: float,
    phase: float = 0.0,
) -> Schedule:
    """Return the earliest schedule of ``pages`` requests under ``policy``.

    ``limit`` requests per ``period`` seconds; ``concurrency`` requests in flight
    after the first page; each answer takes ``latency`` seconds; ``phase`` (fixed
    window only) is the first send's offset into its clock window, in ``[0, period)``.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
    if limit < 1 or period <= 0 or pages < 1 or concurrency < 1 or latency < 0:
        raise ValueError("limit, pages and concurrency must be >= 1, period > 0, latency >= 0")
    if not 0 <= phase < period:
        raise ValueError(f"phase must lie in [0, period), got {phase!r}")
    gate = _Gate(policy, limit, period, phase)
    sends = [gate.admit(0.0)]
    # Every slot frees when the first page (and with it ``total``) is back.
    slots = [latency] * concurrency
    for _ in range(1, pages):
        free = heapq.heappop(slots)
        sent = gate.admit(free)
        sends.append(sent)
        heapq.heappush(slots, sent + latency)
    return Schedule(sends=tuple(sends), wall=max(sends) + latency)


def sequential_wall(pages: int, latency: float) -> float:
    """Return the wall time of a sequential loop never held back by the cap."""
    return pages * latency


class _Gate:
    """The earliest admissible time for the next request, per policy."""

    def __init__(self, policy: str, limit: int, period: float, phase: float) -> None:
        self.policy = policy
        self.limit = limit
        self.period = period
        self.phase = phase
        self.accepted: list[float] = []
        # Fixed window: index of the current window and how many it accepted.
        self._window = -1
        self._count = 0
        # Token bucket: tokens left just after the last acceptance, and when.
        self._tokens = float(limit)
        self._last = 0.0

    def admit(self, not_before: float) -> float:
        """Return the earliest admissible time at or after ``not_before``; record it."""
        at = self._earliest(not_before)
        self.accepted.append(at)
        return at

    def _earliest(self, t: float) -> float:
        r, w, done = self.limit, self.period, self.accepted
        if done:
            # Requests are interchangeable: the next one never needs to precede the last.
            t = max(t, done[-1])
        if self.policy == "sliding":
            return max(t, done[-r] + w) if len(done) >= r else t
        if self.policy == "no-burst":
            return max(t, done[-1] + w / r) if done else t
        if self.policy == "fixed":
            return self._fixed(t)
        if self.policy == "token-bucket":
            return self._bucket(t)
        return t

    def _fixed(self, t: float) -> float:
        window = math.floor((t + self.phase) / self.period)
        if window > self._window:
            self._window, self._count = window, 0
        if self._count >= self.limit:
            self._window += 1
            self._count = 0
            t = self._window * self.period - self.phase
        self._count += 1
        return t

    def _bucket(self, t: float) -> float:
        rate = self.limit / self.period
        t = max(t, self._last)
        tokens = min(float(self.limit), self._tokens + (t - self._last) * rate)
        if tokens < 1.0 - _EPSILON:
            t = self._last + (1.0 - self._tokens) / rate
            tokens = 1.0
        self._tokens = tokens - 1.0
        self._last = t
        return t
