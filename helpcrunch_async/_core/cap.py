"""The cap's arithmetic: when the next request may leave.

This module is pure: it imports neither aiohttp nor asyncio, never reads a clock
and never sleeps. Every decision takes the current time as an argument, so the
rules below are unit-tested without an event loop; `_shell.budget` is the thin shell
that waits on them.

The promise: at most ``limit`` requests in *any* window of ``period`` seconds,
counting every attempt on the wire, whatever window type the server enforces.
The rules that keep it, in order:

1. Sliding log. A request may leave at ``t`` only if ``t >= sent[-n] + period +
   margin``, where ``sent`` are the send times of earlier attempts (429s
   included) and ``n`` is the current allowance (``limit`` until the server
   proves stricter). Any ``period`` window then holds at most ``n`` sends, which
   is safe under a sliding window, a fixed clock window (a clock window is one
   of the windows) and a token bucket of capacity ``n`` refilled at
   ``n / period`` (its deficit after a send never exceeds ``n - 1``). ``margin``
   absorbs jitter between sending and the server's clock of arrival. The log
   allows a whole window's budget at once.
2. Settling. The server counts a request at some moment between its send and
   its answer, and jitter on the way in may count one request late and the
   next one early. When an answer comes, its send is moved later in the log
   by how much longer its round trip took than the quickest answer of its
   kind (success or 429) so far, at most ``max_settle`` (a tenth of the
   period): a request that may have been counted late holds its slot that
   much longer. The quickest is learned as answers come: when a quicker one
   shows up, every send in the log moves later by how much quicker it is (at
   most ``max_settle``), at least as far as any send settled against the
   slower quickest may have been counted late. That move is one offset added
   to the whole log; the moves add up to no more than the first answer's
   round trip. Pacing (rule 4) is timed from real sends, not from settled
   ones.
3. Pause. A 429 pauses every request until ``Retry-After`` when given, else for
   a backoff that starts at one request's share of the period and doubles while
   429s repeat, capped at the period. A pause is never shorter than the pacing
   interval.
4. Adaptation. A 429 for a request sent after the last adaptation is evidence
   that the server is stricter than the log. The first switches on pacing:
   one request per ``period / n`` seconds plus a slack of 5%, at least 4 ms
   (rule 5 widens that room to the jitter seen). Each further one doubles
   the slack, up to 25%; past that, each lowers ``n`` by a fifth. 429s for
   requests that were already on the wire before the adaptation are the same
   evidence and change nothing. After ``2 * n`` clean answers a lowered
   allowance creeps back up by a tenth of the limit, and once it is whole, a
   widened slack halves back towards 5%. Pacing itself stays.
5. Jitter. Every answer's lateness (rule 2: how much longer its round trip
   took than the quickest) feeds a jitter estimate that jumps to any larger
   lateness and keeps `JITTER_DECAY` of itself per answer, and the pacing
   interval's room is at least the estimate (at most one more share); a
   fresh 429 while paced doubles it, and the doubled value fades ten times
   slower (`KEPT_DECAY`). The first adaptation starts the estimate at
   `JITTER_PRIOR` of a share, at most `JITTER_PRIOR_MAX` seconds, since its
   first answers cannot show the jitter before the next request leaves.
6. Opening. Until the server has shown that it takes bursts, a send within half
   a request's share of the period after the previous one is a *probe*, and
   while a probe is out the others wait for its answer, or go one at the
   interval its refusal would set (rules 4 and 5), which any server takes; a
   send that would leave later than that but sooner than the first pacing
   interval (`cold_interval`) waits for that interval, since a no-burst server
   may refuse it, yet its acceptance would prove nothing. A probe answered
   without a 429 shows that the server takes bursts (no no-burst server of this
   limit accepts it), and no send waits for this rule again; a 429 for it
   switches on pacing (rule 4), which spaces every send from then on. A probe
   is waited for `PROBE_TRIPS` of the quickest round trip seen (a 429 comes
   back as fast as a page), at least one pacing interval, at most a period
   (before any answer came); then it is taken for slow, not refused, and the
   next burst asks again.

Why each rule, what it costs and the incidents that shaped it:
docs/design.md, "The cap".
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from helpcrunch_async._core.params import check_rate

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "CONSTANTS",
    "Cap",
    "CapSnapshot",
    "Settler",
    "cold_interval",
    "default_margin",
    "next_jitter",
    "pacing_interval",
    "probe_wait",
]

# The rules' constants in one public table: `Cap` reads them here, and the
# Redis scripts are generated with the same table, so the two never drift apart.
CONSTANTS: Final[Mapping[str, float]] = MappingProxyType(
    {
        # A fifth less per fresh 429 once the slack is spent: quick to settle, never zero.
        "DECREASE": 0.8,
        # Pacing slack: room for arrival jitter between two evenly spaced requests.
        "SLACK_START": 0.05,
        "SLACK_MAX": 0.25,
        # ...and never less than this many seconds: jitter on a busy host does not
        # shrink with the interval (see the arrival-jitter rows of benchmarks/RESULTS.md).
        "SLACK_FLOOR": 0.004,
        # Clean answers (times the allowance) before the allowance grows again.
        "RECOVERY_FACTOR": 2,
        # The most a send is moved later when its answer settles it, as a share of the period.
        "MAX_SETTLE": 0.1,
        # Pacing covers this share of the arrival jitter seen (rule 5)...
        "JITTER_COVER": 1.0,
        # ...up to this share of the interval...
        "JITTER_MAX": 1.0,
        # ...and the estimate keeps this much of itself per answer: a spike fades
        # by half in about 70 answers (the trade: docs/design.md, "The cap").
        "JITTER_DECAY": 0.99,
        # Before any answer has shown the jitter, pacing assumes this share of
        # the interval...
        "JITTER_PRIOR": 0.25,
        # ...at most this many seconds: jitter does not grow with the interval.
        "JITTER_PRIOR_MAX": 0.02,
        # Once a 429 has shown the estimate too small, the doubled estimate keeps
        # this much of itself per answer: a host that bunched arrivals once will again.
        "KEPT_DECAY": 0.999,
        # A probe (rule 6) is waited for this many of the quickest round trips.
        "PROBE_TRIPS": 4,
    }
)
_DECREASE = CONSTANTS["DECREASE"]
_SLACK_START = CONSTANTS["SLACK_START"]
_SLACK_MAX = CONSTANTS["SLACK_MAX"]
_SLACK_FLOOR = CONSTANTS["SLACK_FLOOR"]
_RECOVERY_FACTOR = int(CONSTANTS["RECOVERY_FACTOR"])
_MAX_SETTLE = CONSTANTS["MAX_SETTLE"]
_JITTER_COVER = CONSTANTS["JITTER_COVER"]
_JITTER_MAX = CONSTANTS["JITTER_MAX"]
_JITTER_DECAY = CONSTANTS["JITTER_DECAY"]
_JITTER_PRIOR = CONSTANTS["JITTER_PRIOR"]
_JITTER_PRIOR_MAX = CONSTANTS["JITTER_PRIOR_MAX"]
_KEPT_DECAY = CONSTANTS["KEPT_DECAY"]
_PROBE_TRIPS = CONSTANTS["PROBE_TRIPS"]


def default_margin(period: float) -> float:
    """Return the safety margin added to every window: 2% of the period (why: docs/design.md)."""
    return period * 0.02


class Settler:
    """How much later than its send a request may have been counted (rule 2).

    Keeps the quickest round trip seen of each kind (success, 429); a trip
    slower than that may have spent the difference on the way in. Shared by
    `Cap` and by budgets that keep their log elsewhere.

    The quickest trip is only learned as answers come: the first window's
    answers may all be slow (a burst queued at the server), so a send settled
    then was settled against too slow a quickest. When a quicker trip shows
    up, `settle` says how much later every earlier send must move: a constant
    amount of work, however many sends there were.
    """

    __slots__ = ("_fastest", "max_settle")

    def __init__(self, period: float) -> None:
        self.max_settle = period * _MAX_SETTLE
        self._fastest = [math.inf, math.inf]

    @property
    def quickest(self) -> float:
        """The quickest round trip of a non-429 answer so far (inf before any)."""
        return self._fastest[0]

    def late(self, trip: float, *, rate_limited: bool = False) -> float:
        """Return how much to move a send whose answer came ``trip`` seconds after it."""
        if not trip >= 0:  # also refuses NaN
            return 0.0
        kind = int(rate_limited)
        fastest = self._fastest[kind] = min(self._fastest[kind], trip)
        return min(trip - fastest, self.max_settle)

    def settle(self, trip: float, *, rate_limited: bool = False) -> tuple[float, float]:
        """Return an answer's lateness and how much later every earlier send must move.

        ``trip`` is how long the answer took from the wire. The lateness moves
        this send; the second number, nonzero only when ``trip`` is the
        quickest of its kind yet and an earlier one was slower, moves every
        send before it: at least as far as any of them was settled short.
        """
        kind = int(rate_limited)
        before = self._fastest[kind]
        late = self.late(trip, rate_limited=rate_limited)
        shift = 0.0
        if trip >= 0 and math.isfinite(before) and trip < before:
            shift = min(before - trip, self.max_settle)
        return late, shift


@dataclass(frozen=True, slots=True)
class CapSnapshot:
    """What the cap has decided so far, for logs, stats and tests."""

    limit: int
    allowance: int
    spacing: float
    pause_until: float
    rate_limited: int
    adaptations: int


class Cap:
    """The sliding log, pause and adaptation rules for one rate budget.

    ``limit`` requests per ``period`` seconds; ``margin`` seconds are added to
    every window (default: `default_margin`). Times are floats on one monotonic
    clock chosen by the caller. ``bursts`` says that whether the server takes
    bursts is known, or asked elsewhere (rule 6 then holds nothing back).
    """

    __slots__ = (
        "_adaptations",
        "_adapted_at",
        "_allowance",
        "_bursts",
        "_clean",
        "_jitter",
        "_kept",
        "_last_sent",
        "_offset",
        "_open",
        "_pause_until",
        "_probe",
        "_probe_until",
        "_rate_limited",
        "_sent",
        "_settler",
        "_slack",
        "_spacing",
        "_streak",
        "limit",
        "margin",
        "period",
    )

    def __init__(
        self, limit: int, period: float, *, margin: float | None = None, bursts: bool = False
    ) -> None:
        limit, period, margin = check_rate(limit, period, margin)
        if margin is None:
            margin = default_margin(period)
        self.limit = limit
        self.period = float(period)
        self.margin = float(margin)
        self._settler = Settler(self.period)
        # Sorted: when each send may have been counted, as far as we know,
        # less `_offset`, which moves them all at once (rule 2).
        self._sent: list[float] = []
        self._offset = 0.0
        # When the latest request really left: pacing is timed from it.
        self._last_sent = -math.inf
        # Sends not yet answered, by the stamp handed out: when each reached
        # the wire and its entry in `_sent`. Oldest first, at most `limit`.
        self._open: dict[float, tuple[float, float]] = {}
        self._allowance = limit
        # Rule 6: whether the server took a burst, and the probe out (its stamp, and until when).
        self._bursts = bursts
        self._probe = math.nan
        self._probe_until = -math.inf
        self._spacing = 0.0
        self._slack = 0.0
        self._jitter = 0.0
        # The jitter a 429 proved too large for the estimate: it fades slower (rule 5).
        self._kept = 0.0
        self._pause_until = -math.inf
        self._adapted_at = -math.inf
        self._streak = 0
        self._clean = 0
        self._rate_limited = 0
        self._adaptations = 0

    @property
    def max_settle(self) -> float:
        """The most a send is moved later when its answer settles it (rule 2)."""
        return self._settler.max_settle

    @property
    def allowance(self) -> int:
        """Requests allowed in one period now: ``limit`` until the server proves stricter."""
        return self._allowance

    @property
    def spacing(self) -> float:
        """Seconds between two requests once the server refused a burst; 0 before."""
        return self._spacing

    @property
    def slack(self) -> float:
        """The share added to each pacing interval for arrival jitter; 0 before pacing."""
        return self._slack

    @property
    def pause_until(self) -> float:
        """No request leaves before this time (a 429's pause); -inf when none."""
        return self._pause_until

    def snapshot(self) -> CapSnapshot:
        """Return the current decisions as a frozen record."""
        return CapSnapshot(
            limit=self.limit,
            allowance=self._allowance,
            spacing=self._spacing,
            pause_until=self._pause_until,
            rate_limited=self._rate_limited,
            adaptations=self._adaptations,
        )

    def next_slot(self, now: float) -> float:
        """Return the earliest time, not before ``now``, at which a request may leave.

        Covers the sliding log and the pause; `next_paced_slot` adds pacing.
        """
        at = max(now, self._pause_until)
        n = self._allowance
        if len(self._sent) >= n:
            at = max(at, self._sent[-n] + self._offset + self.period + self.margin)
        return at

    def next_paced_slot(self, now: float) -> float:
        """Return `next_slot` with pacing applied: every rule in one answer."""
        at = self.next_slot(now)
        if self._spacing and self._sent:
            at = max(at, self._last_sent + self._spacing)
        elif not self._bursts:
            if at < self._probe_until:
                # Rule 6: a probe is out; the others go at the pace a refusal would set.
                at = max(at, min(self._probe_until, self._last_sent + self._opening_interval()))
            elif self._last_sent + self._probe_gap() < at < self._last_sent + self._cold_interval():
                # Too late for a probe, too soon for a no-burst server.
                at = self._last_sent + self._cold_interval()
        return at

    @property
    def bursts(self) -> bool:
        """Whether the server has taken a burst (rule 6): then no send waits for a probe."""
        return self._bursts

    @property
    def probing(self) -> bool:
        """Whether a probe (rule 6) awaits its answer: bursts wait for it."""
        return self._probe_until > -math.inf

    def record(self, sent_at: float) -> None:
        """Record that a request left at ``sent_at`` (times never go backwards)."""
        stamp = sent_at
        sent_at = max(sent_at, self._last_sent)
        if (
            not self._bursts
            and not self._spacing
            and sent_at <= self._last_sent + self._probe_gap()
            and sent_at >= self._probe_until
        ):
            # Rule 6: a burst, and none is out: this one asks the server.
            self._probe = stamp
            self._probe_until = sent_at + probe_wait(
                self._settler.quickest, self._cold_interval(), self.period
            )
        self._last_sent = sent_at
        entry = sent_at - self._offset
        insort(self._sent, entry)
        if len(self._sent) > 2 * self.limit:
            # Only the latest `limit` entries decide; drop the rest in one go.
            del self._sent[: -self.limit]
        if len(self._open) >= self.limit:
            # Answers forget their stamps; the oldest was never answered.
            del self._open[next(iter(self._open))]
        self._open[stamp] = (sent_at, entry)

    def correct(self, stamp: float, actual: float) -> None:
        """Move a recorded send from ``stamp`` to ``actual``, when it really left.

        A request admitted at ``stamp`` may reach the wire later (a new
        connection, a TLS handshake); the log must hold when it left, or a
        later request, timed from the early stamp, would arrive inside the
        window. Only moves a send later; unknown stamps are ignored.
        """
        wire, entry = self._open.get(stamp, (stamp, stamp - self._offset))
        if actual <= wire or not self._move(entry, actual - self._offset):
            return
        self._open[stamp] = (actual, actual - self._offset)
        self._last_sent = max(self._last_sent, actual)

    def settle(self, stamp: float, answered_at: float, *, rate_limited: bool = False) -> None:
        """Move the send stamped ``stamp`` later by how much its answer was slow (rule 2).

        ``answered_at`` is when the answer came, on the same clock. An
        unknown stamp still teaches the quickest trip and the jitter.
        """
        # A stamp forgotten (or handed out twice) is looked up as it was recorded.
        wire, entry = self._open.pop(stamp, (stamp, stamp - self._offset))
        late, shift = self._settler.settle(answered_at - wire, rate_limited=rate_limited)
        # Every send moves at once; this one then goes where its own trip says.
        self._offset += shift
        self._move(entry, wire + late - self._offset)
        self._kept *= _KEPT_DECAY
        self._jitter = max(next_jitter(self._jitter, late), self._kept)
        if self._spacing:
            self._spacing = self._pacing_interval()

    def _move(self, entry: float, to: float) -> bool:
        """Move one entry of the log (kept less the offset) to ``to``; False if none is there."""
        sent = self._sent
        i = bisect_left(sent, entry)
        if i == len(sent) or sent[i] != entry:
            return False
        if entry != to:
            del sent[i]
            insort(sent, to)
        return True

    def on_success(self, sent_at: float) -> None:
        """Record a non-429 answer to a request sent at ``sent_at``."""
        if sent_at == self._probe:
            # Rule 6: the server took a burst.
            self._bursts = True
            self._probe_until = -math.inf
        if sent_at < self._adapted_at:
            return
        self._streak = 0
        if self._allowance >= self.limit and self._slack <= _SLACK_START:
            return
        self._clean += 1
        if self._clean >= _RECOVERY_FACTOR * self._allowance:
            self._clean = 0
            if self._allowance < self.limit:
                self._allowance = min(self.limit, self._allowance + max(1, self.limit // 10))
            else:
                self._slack = max(_SLACK_START, self._slack / 2)
            self._spacing = self._pacing_interval()

    def on_rate_limited(self, now: float, sent_at: float, retry_after: float | None) -> float:
        """Record a 429 for a request sent at ``sent_at``; return the pause in seconds.

        Every request waits until ``now`` plus the returned pause.
        """
        self._rate_limited += 1
        self._clean = 0
        if sent_at == self._probe:
            # Rule 6: refused; pacing (rule 4) spaces every send from now on.
            self._probe_until = -math.inf
        if sent_at >= self._adapted_at:
            # Fresh evidence: this request left after our last adjustment.
            self._streak += 1
            self._adaptations += 1
            self._adapted_at = now
            if not self._spacing:
                self._slack = _SLACK_START
                self._jitter = max(self._jitter, self._prior())
            else:
                # Paced, and still refused: the jitter was larger than the estimate.
                self._jitter *= 2
                self._kept = max(self._kept, self._jitter)
                if self._slack < _SLACK_MAX:
                    self._slack = min(_SLACK_MAX, 2 * self._slack)
                else:
                    self._allowance = max(1, math.floor(self._allowance * _DECREASE))
            self._spacing = self._pacing_interval()
        if retry_after is not None and retry_after >= 0:
            pause = retry_after
        else:
            pause = min(self.period, self._spacing * 2 ** max(0, self._streak - 1))
        pause = max(pause, self._spacing)
        self._pause_until = max(self._pause_until, now + pause)
        return self._pause_until - now

    @property
    def jitter(self) -> float:
        """The arrival jitter seen lately, in seconds (rule 5)."""
        return self._jitter

    def _pacing_interval(self) -> float:
        return pacing_interval(self.period, self.margin, self._allowance, self._slack, self._jitter)

    def _cold_interval(self) -> float:
        return cold_interval(self.period, self.margin, self._allowance)

    def _prior(self) -> float:
        # Rule 5: the jitter estimate pacing starts from.
        share = self.period / self._allowance
        return min(share * _JITTER_PRIOR, _JITTER_PRIOR_MAX) / _JITTER_COVER

    def _opening_interval(self) -> float:
        # Rule 6: the interval the probe's refusal would set (rules 4 and 5).
        jitter = max(self._jitter, self._prior())
        return pacing_interval(self.period, self.margin, self._allowance, _SLACK_START, jitter)

    def _probe_gap(self) -> float:
        # Rule 6: a send this soon after the last is a burst any no-burst server refuses.
        return self.period / self._allowance / 2


def next_jitter(jitter: float, late: float) -> float:
    """Return the jitter estimate after an answer that came ``late`` s after the quickest.

    The estimate decays by `JITTER_DECAY` per answer and jumps to any larger ``late``.
    """
    return max(jitter * _JITTER_DECAY, late)


def pacing_interval(
    period: float, margin: float, allowance: int, slack: float, jitter: float
) -> float:
    """Return the seconds between two paced requests (rules 4 and 5).

    One request's share of the period, plus the largest of: the slack's share
    of it, `SLACK_FLOOR`, and the jitter estimate times `JITTER_COVER` (at most
    `JITTER_MAX` of the share); never less than the window with its margin
    spread over the allowance.
    """
    share = period / allowance
    room = max(share * slack, _SLACK_FLOOR, min(jitter * _JITTER_COVER, share * _JITTER_MAX))
    return max(share + room, (period + margin) / allowance)


def cold_interval(period: float, margin: float, allowance: int) -> float:
    """Return the gap after which a send is no burst (rule 6): the first pacing interval."""
    return pacing_interval(period, margin, allowance, _SLACK_START, 0.0)


def probe_wait(quickest: float, cold: float, period: float) -> float:
    """Return how long every send waits for a probe's answer (rule 6).

    `PROBE_TRIPS` times the ``quickest`` round trip, at least ``cold`` (one
    pacing interval), at most ``period`` (also when no trip is known yet).
    """
    return min(period, max(cold, _PROBE_TRIPS * quickest))
