"""The arithmetic of a rate budget shared through Redis when Redis fails.

This module is pure: it imports neither asyncio nor redis, never reads a clock
and never sleeps; every function takes times as arguments. `_redis.budget`
(the I/O shell) and `_redis.state` (the mode machine) act on its answers.

The rule it keeps: while Redis is unreachable, ``k`` processes sharing one key
(``k`` = the configured ``fallback_workers``) together send at most ``limit``
requests in any ``period``, and no window mixes full-rate shared sends with
fallback sends.

1. Share. Each process in fallback keeps its own sliding log of
   ``limit // k`` requests (`fallback_share`); ``k`` of them send at most
   ``k * (limit // k) <= limit`` in any window.
2. Quarantine. A process that notices the fault at ``d`` knows nothing of what
   the others sent through Redis before it died, up to a whole window's worth.
   All those sends left before ``d``, so a fallback send at ``s >= d + period +
   margin`` (`fallback_start`) shares no window with any of them.
3. Probe before sending. A process in fallback sends only within
   ``probe_interval`` of a failed probe, so once Redis answers everyone again
   (at ``y``), no fallback send leaves after ``y + probe_timeout +
   probe_interval``.
4. Hand-over. A process that rejoins at ``r >= y`` writes its own recent sends
   into the shared log, then for `transition_end` (``r + probe_timeout +
   probe_interval + period + margin``) obeys both the shared log and its
   fallback share. Until then others may still be in fallback (rule 3 bounds
   how long), and every process involved stays within its share; after it, no
   window holds a fallback send, and the shared log counts everything else.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from helpcrunch_async._core.params import check_budget_key, check_fallback_workers

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "default_probe_interval",
    "fallback_share",
    "fallback_start",
    "jitter_bound",
    "key_names",
    "rejoin_ages",
    "transition_end",
]


def fallback_share(limit: int, workers: int) -> int:
    """Return the requests per period one of ``workers`` processes may send in fallback.

    ``limit // workers``, so the sum over all of them never exceeds ``limit``.
    """
    return limit // check_fallback_workers(workers, limit)


def fallback_start(detected_at: float, period: float, margin: float, pause_until: float) -> float:
    """Return the earliest time a process that noticed the fault at ``detected_at`` may send.

    One whole window plus the margin after the fault, so no window holds both a
    fallback send and an unknown send made through Redis before it failed; later
    still if a 429's pause known at the fault ends later.
    """
    return max(detected_at + period + margin, pause_until)


def transition_end(
    rejoined_at: float,
    probe_interval: float,
    probe_timeout: float,
    period: float,
    margin: float,
) -> float:
    """Return when a process that rejoined at ``rejoined_at`` may drop its fallback share.

    By ``rejoined_at + probe_timeout + probe_interval`` every other process has
    probed and rejoined; one window plus the margin later no window holds a
    fallback send any more.
    """
    return rejoined_at + probe_timeout + probe_interval + period + margin


def rejoin_ages(
    sends: Iterable[tuple[float, bool]], now: float, window: float
) -> tuple[list[float], list[float]]:
    """Split this process's recent sends into ages for the shared log, fallback sends first.

    ``sends`` are ``(time, in_fallback)`` pairs on the caller's clock; only those
    within ``window`` of ``now`` still matter. Ages (``now - time``, never
    negative) let the server stamp them on its own clock: measuring ``now``
    before the call makes every stamp late rather than early, which is the
    conservative side for a sliding log.
    """
    fallback: list[float] = []
    shared: list[float] = []
    for at, in_fallback in sends:
        age = now - at
        if age > window:
            continue
        (fallback if in_fallback else shared).append(max(0.0, age))
    return fallback, shared


def default_probe_interval(period: float) -> float:
    """Return how often a process in fallback asks whether Redis is back.

    A quarter of the period, between 50 ms and 5 s: the hand-over lasts this
    long beyond one window, and a probe is one cheap round trip.
    """
    return min(5.0, max(0.05, period / 4))


def jitter_bound(wait: float) -> float:
    """Return the most random delay to add to a wait of ``wait`` seconds.

    Five per cent of the wait, at most 10 ms: enough to spread waiters told the
    same time, too little to cost throughput.
    """
    if not math.isfinite(wait) or wait <= 0:
        return 0.0
    return min(0.01, wait * 0.05)


def key_names(key: str) -> tuple[str, str, str, str, str]:
    """Return the Redis keys of one shared budget: state, log, waiters, leases, ticket counter.

    All carry the same ``{key}`` hash tag, so a Redis Cluster keeps them on one
    node, where one script may touch them all.
    """
    tag = "{" + check_budget_key(key) + "}"
    return (f"{tag}:state", f"{tag}:log", f"{tag}:waiters", f"{tag}:leases", f"{tag}:ticket")
