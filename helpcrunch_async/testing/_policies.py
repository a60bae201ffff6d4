"""The emulator's rate policies: pure admission rules over arrival times.

This module is PURE on purpose: it imports neither aiohttp nor asyncio and never reads
a clock. Every decision takes the arrival time as a float (seconds, any monotonic
origin), so the rules are unit-tested without sockets or sleeping, and the server only
feeds them its ``monotonic`` clock (``time.monotonic()`` unless a test injects one).

Each policy answers ``admit(now) -> (accepted, wait)``: ``wait`` is None when the request
is accepted, otherwise the seconds until a request arriving with nothing else in between
would be accepted (the server turns it into ``Retry-After``).

The rules, for a limit of R requests per W seconds:

- ``sliding``: at most R accepted requests in any W-second window of arrival times:
  a request at ``now`` is accepted when fewer than R counted arrivals lie in
  ``(now - W, now]``.
- ``fixed``: at most R accepted per clock window ``[origin + k*W, origin + (k+1)*W)``.
  Up to 2R can land in a W-second span straddling a window edge.
- ``token-bucket``: capacity R, refilled at R/W tokens a second, starts full; up to
  2R in the first W seconds.
- ``no-burst``: nginx ``limit_req`` without ``burst``: a request arriving sooner than
  W/R after the previous accepted one is rejected.
- ``none``: everything is accepted.

``count_rejected`` makes rejected requests count against the limit: sliding records the
rejected arrival in its window, the token bucket takes the token anyway (going into
debt), no-burst restarts its spacing timer. A fixed window cannot tell the difference:
it only rejects once its window is full, and a full window stays full until it ends.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, get_args

if TYPE_CHECKING:
    from collections.abc import Sequence

PolicyName = Literal["sliding", "fixed", "token-bucket", "no-burst", "none"]
POLICY_NAMES: tuple[str, ...] = get_args(PolicyName)

# Float rounding: ``now + wait`` can land a hair before the moment it names, and an
# exact refill can leave 0.9999999 of a token. Waits are padded and checks relaxed by this.
_EPSILON = 1e-9


class RatePolicy(Protocol):
    """What the server asks of a policy: may this arrival pass, and if not, how long to wait."""

    def admit(self, now: float) -> tuple[bool, float | None]:
        """Decide on an arrival at ``now``; return (accepted, seconds to wait or None)."""
        ...


class Unlimited:
    """The ``none`` policy: every request passes."""

    def admit(self, now: float) -> tuple[bool, float | None]:  # noqa: ARG002 -- the protocol's signature
        """Accept unconditionally."""
        return True, None


class SlidingWindow:
    """At most ``limit`` counted arrivals in any ``period``-second window."""

    def __init__(self, limit: int, period: float, *, count_rejected: bool = False) -> None:
        """Keep the arrival log; ``count_rejected`` also logs rejected arrivals."""
        _check(limit, period)
        self.limit = limit
        self.period = period
        self.count_rejected = count_rejected
        self._times: deque[float] = deque()

    def admit(self, now: float) -> tuple[bool, float | None]:
        """Accept when fewer than ``limit`` counted arrivals lie in ``(now - period, now]``."""
        times = self._times
        horizon = now - self.period
        while times and times[0] <= horizon:
            times.popleft()
        if len(times) < self.limit:
            times.append(now)
            return True, None
        if self.count_rejected:
            times.append(now)
        # The window must shed all but limit - 1 entries: wait for entry [-limit] to expire.
        oldest_blocking = times[len(times) - self.limit]
        return False, max(oldest_blocking + self.period - now, 0.0) + _EPSILON


class FixedWindow:
    """At most ``limit`` accepted per clock window ``[origin + k*W, origin + (k+1)*W)``."""

    def __init__(
        self,
        limit: int,
        period: float,
        *,
        origin: float = 0.0,
        count_rejected: bool = False,
    ) -> None:
        """Align windows to ``origin``; ``count_rejected`` changes nothing here (see module)."""
        _check(limit, period)
        self.limit = limit
        self.period = period
        self.origin = origin
        self.count_rejected = count_rejected
        self._window = -math.inf
        self._count = 0

    def admit(self, now: float) -> tuple[bool, float | None]:
        """Accept while the current window has room; otherwise wait for the next window."""
        window = math.floor((now - self.origin) / self.period)
        if window != self._window:
            self._window = window
            self._count = 0
        if self._count < self.limit:
            self._count += 1
            return True, None
        next_start = self.origin + (window + 1) * self.period
        return False, max(next_start - now, 0.0) + _EPSILON


class TokenBucket:
    """Capacity ``limit``, refilled at ``limit / period`` tokens a second, starting full."""

    def __init__(self, limit: int, period: float, *, count_rejected: bool = False) -> None:
        """Start full; ``count_rejected`` lets a rejected request take a token into debt."""
        _check(limit, period)
        self.limit = limit
        self.period = period
        self.count_rejected = count_rejected
        self._rate = limit / period
        self._tokens = float(limit)
        self._last: float | None = None

    def admit(self, now: float) -> tuple[bool, float | None]:
        """Take a token when one is there; otherwise wait until one has refilled."""
        if self._last is not None and now > self._last:
            self._tokens = min(self.limit, self._tokens + (now - self._last) * self._rate)
        if self._last is None or now > self._last:
            self._last = now
        if self._tokens >= 1.0 - _EPSILON:
            self._tokens -= 1.0
            return True, None
        if self.count_rejected:
            self._tokens -= 1.0
        return False, (1.0 - self._tokens) / self._rate


class NoBurst:
    """Reject an arrival sooner than ``period / limit`` after the previous accepted one."""

    def __init__(self, limit: int, period: float, *, count_rejected: bool = False) -> None:
        """Space requests evenly; ``count_rejected`` restarts the spacing on a rejection."""
        _check(limit, period)
        self.limit = limit
        self.period = period
        self.count_rejected = count_rejected
        self.interval = period / limit
        self._last: float | None = None

    def admit(self, now: float) -> tuple[bool, float | None]:
        """Accept when the spacing since the last counted arrival has elapsed."""
        if self._last is None or now - self._last >= self.interval - _EPSILON:
            self._last = now
            return True, None
        if self.count_rejected:
            self._last = now
        return False, self._last + self.interval - now


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The emulator's rate limiting: a policy by name, its limit and period, its manners.

    ``policy`` is one of ``POLICY_NAMES`` (``none`` by default); ``limit`` requests per
    ``period`` seconds; ``count_rejected`` and ``window_origin`` as described above;
    ``retry_after`` sends a ``Retry-After`` header with each 429, the wait rounded up
    to a multiple of ``retry_after_resolution`` seconds (HTTP's whole delta-seconds by
    default; a fraction sends a decimal value, so that a benchmark that compresses a
    minute into ``period`` seconds can compress the header with it: ``period / 60``).
    """

    policy: str = "none"
    limit: int = 120
    period: float = 60.0
    count_rejected: bool = False
    window_origin: float = 0.0
    retry_after: bool = True
    retry_after_resolution: float = 1.0

    def __post_init__(self) -> None:
        """Refuse an unknown policy, a limit below one, a non-positive period or resolution."""
        self.build()
        _check_resolution(self.retry_after_resolution)

    def build(self) -> RatePolicy:
        """Return a fresh policy (empty state) for these settings."""
        return make_policy(
            self.policy,
            self.limit,
            self.period,
            count_rejected=self.count_rejected,
            origin=self.window_origin,
        )


def make_policy(
    name: str,
    limit: int,
    period: float,
    *,
    count_rejected: bool = False,
    origin: float = 0.0,
) -> RatePolicy:
    """Build the policy called ``name`` (one of ``POLICY_NAMES``) for ``limit`` per ``period``."""
    if name == "none":
        return Unlimited()
    if name == "sliding":
        return SlidingWindow(limit, period, count_rejected=count_rejected)
    if name == "fixed":
        return FixedWindow(limit, period, origin=origin, count_rejected=count_rejected)
    if name == "token-bucket":
        return TokenBucket(limit, period, count_rejected=count_rejected)
    if name == "no-burst":
        return NoBurst(limit, period, count_rejected=count_rejected)
    raise ValueError(f"unknown rate policy {name!r}; choose one of {', '.join(POLICY_NAMES)}")


def retry_after_seconds(wait: float | None, resolution: float = 1.0) -> float:
    """Turn a policy's wait into a ``Retry-After`` value, in seconds.

    The wait rounded up to a multiple of ``resolution`` (whole seconds by default), at
    least one ``resolution``; no wait (a 429 that is not the policy's) gives one.
    """
    _check_resolution(resolution)
    if wait is None:
        return resolution
    return max(1, math.ceil(wait / resolution - _EPSILON)) * resolution


def retry_after_header(seconds: float) -> str:
    """Write a ``Retry-After`` value: whole seconds as an integer, else a decimal.

    A fraction is rounded up to the millisecond, so the header never asks for less
    than the wait it stands for.
    """
    if seconds == math.floor(seconds):
        return str(int(seconds))
    millis = math.ceil(seconds * 1000 - _EPSILON * 1000)
    return f"{millis // 1000}.{millis % 1000:03d}".rstrip("0").rstrip(".")


def _check_resolution(resolution: float) -> None:
    """Refuse a ``Retry-After`` resolution that is not a positive, finite number of seconds."""
    if not (math.isfinite(resolution) and resolution > 0):
        raise ValueError(f"retry_after_resolution must be positive seconds, got {resolution!r}")


def max_in_any_window(times: Sequence[float], window: float) -> int:
    """Count the most arrivals inside any half-open window ``[t, t + window)``.

    Tests prove a cap from the request log with it: under ``sliding`` with R per W, the
    accepted arrivals satisfy ``max_in_any_window(accepted, W) <= R``.
    """
    ordered = sorted(times)
    best = 0
    start = 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _check(limit: int, period: float) -> None:
    if limit < 1:
        raise ValueError(f"rate limit must be at least 1, got {limit}")
    if not period > 0:
        raise ValueError(f"rate period must be positive, got {period}")
