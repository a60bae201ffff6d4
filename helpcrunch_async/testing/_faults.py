"""What goes wrong, and when: fault settings, the seeded fault dice, and drift events.

Pure: no sockets, no clock. The server asks ``FaultDice.pick`` once per ``/v1`` request,
in arrival order, and acts on the answer.

Rules:

- ``fail={k: kind}`` forces the k-th ``/v1`` request (1-based, arrival order, 429s
  included) to answer ``kind`` whatever the rate policy said. Kinds: the statuses
  ``"500" "502" "503" "504" "429" "400" "401" "404"`` (with an ``errors`` body),
  ``"drop"`` (headers and part of the body, then the connection is closed),
  ``"truncate"`` (a 200 whose honest Content-Length covers a cut JSON body),
  ``"malformed"`` (a 200 with invalid JSON or the wrong shape), and ``"hang"`` (no
  answer for ``hang`` seconds, so the client times out).
- Random faults hit only requests the rate policy accepted: one uniform draw per
  request falls into ``error_rate`` (500, 502 or 503), then ``drop_rate``, then
  ``truncate_rate``, then ``malformed_rate``; their sum must not exceed 1. The draw is
  taken for every request, forced or not, so changing ``fail`` leaves the other
  requests' faults where they were.
- Latency is ``latency + uniform(0, jitter)`` seconds, from its own seeded stream,
  slept after the request is counted, before the answer is written.
- The way in is ``arrival_delay + uniform(0, arrival_jitter)`` seconds, from a third
  seeded stream, slept before the request's arrival is stamped and counted: the
  network and a gateway's queue in front of the rate limiter. Its jitter bunches
  requests sent evenly apart, as the server counts them.

Hostile servers (every list endpoint: customers, both searches, chats, messages, agents,
departments):

- ``page_cap=k`` serves at most k items per page, whatever ``limit`` asked for;
- ``data_stops_at=N`` serves nothing at positions >= N (pages at offset >= N come back
  empty, a page across N is cut there) while the total still claims the truth;
- ``fake_total=T`` reports T as the total instead of the true one;
- ``tie_block=k`` plays a sort with ties and no tiebreaker (SQL's ``ORDER BY`` on a
  column many rows share, such as ``firstSeen``, or a null ``lastSeen``): the order's
  positions fall into tie groups of k consecutive rows, whatever their timestamps
  say, and every request serves each group in a fresh random order (from a fourth
  seeded stream), so offset pages overlap and miss rows under an unchanged total
  (customers, both searches and chats);
- ``vanishing_chats={id, ...}`` deletes each of these chats as soon as the first
  page of its messages (offset 0) has been served: its later pages answer 404, as
  those of a chat deleted while a client reads it do;
- ``echo_auth`` appends the request's ``Authorization`` header to the message of every
  error entry, as a careless proxy would.

Every field of ``Faults`` may be changed while the server runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, get_args

from helpcrunch_async.testing._dataset import POSITIONS

if TYPE_CHECKING:
    from collections.abc import Iterable

FaultKind = Literal[
    "500", "502", "503", "504", "429", "400", "401", "404", "drop", "truncate", "malformed", "hang"
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
_RANDOM_ERRORS = ("500", "502", "503")


@dataclass
class Faults:
    """The fault settings; mutable while the server runs (``validate`` after changes)."""

    latency: float = 0.0
    jitter: float = 0.0
    arrival_delay: float = 0.0
    arrival_jitter: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    malformed_rate: float = 0.0
    fail: dict[int, str] = field(default_factory=dict)
    hang: float = 3600.0
    page_cap: int | None = None
    data_stops_at: int | None = None
    fake_total: int | None = None
    tie_block: int | None = None
    vanishing_chats: frozenset[int] = frozenset()
    echo_auth: bool = False

    def window(self, offset: int, limit: int) -> int:
        """Return how many items a list page at ``offset`` may serve, of ``limit`` asked."""
        if self.page_cap is not None:
            limit = min(limit, self.page_cap)
        if self.data_stops_at is not None:
            limit = max(0, min(limit, self.data_stops_at - offset))
        return limit

    def tie_window(self, offset: int, count: int) -> tuple[int, int]:
        """Return the whole tie groups that hold positions ``[offset, offset + count)``."""
        block = self.tie_block
        if block is None or count <= 0:
            return offset, count
        start = offset - offset % block
        stop = -(-(offset + count) // block) * block
        return start, stop - start

    def reported_total(self, total: int) -> int:
        """Return the total a list page claims."""
        return total if self.fake_total is None else self.fake_total

    def validate(self) -> None:
        """Raise ValueError for negative times, rates outside [0, 1] or unknown kinds."""
        if self.page_cap is not None and self.page_cap < 1:
            raise ValueError("page_cap must be >= 1 (or None)")
        if self.tie_block is not None and self.tie_block < 2:  # noqa: PLR2004 -- a tie is two rows
            raise ValueError("tie_block must be >= 2 (or None)")
        for name in ("data_stops_at", "fake_total"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0 (or None)")
        times = (self.latency, self.jitter, self.arrival_delay, self.arrival_jitter, self.hang)
        if any(t < 0 for t in times):
            raise ValueError("latency, jitter, arrival_delay, arrival_jitter and hang must be >= 0")
        rates = (self.error_rate, self.drop_rate, self.truncate_rate, self.malformed_rate)
        if any(not 0 <= rate <= 1 for rate in rates) or sum(rates) > 1:
            raise ValueError(f"fault rates must lie in [0, 1] and sum to at most 1, got {rates}")
        for number, kind in self.fail.items():
            if number < 1 or kind not in FAULT_KINDS:
                raise ValueError(f"fail entries are {{k >= 1: kind in {FAULT_KINDS}}}")


class FaultDice:
    """The seeded random streams that decide each request's fault and delay."""

    def __init__(self, seed: int = 0) -> None:
        """Seed the fault, latency and arrival streams separately."""
        self._faults = random.Random(f"helpcrunch-emulator-faults-{seed}")
        self._delays = random.Random(f"helpcrunch-emulator-delays-{seed}")
        self._arrivals = random.Random(f"helpcrunch-emulator-arrivals-{seed}")
        self._ties = random.Random(f"helpcrunch-emulator-ties-{seed}")

    def pick(self, faults: Faults, number: int, *, accepted: bool) -> str | None:
        """Return the fault kind for the ``number``-th request, or None to answer normally."""
        draw = self._faults.random()
        forced = faults.fail.get(number)
        if forced is not None:
            return forced
        if not accepted:
            return None
        if draw < faults.error_rate:
            return _RANDOM_ERRORS[int(draw / faults.error_rate * len(_RANDOM_ERRORS))]
        draw -= faults.error_rate
        for kind, rate in (
            ("drop", faults.drop_rate),
            ("truncate", faults.truncate_rate),
            ("malformed", faults.malformed_rate),
        ):
            if draw < rate:
                return kind
            draw -= rate
        return None

    def delay(self, faults: Faults) -> float:
        """Return this answer's latency in seconds."""
        if faults.jitter <= 0:
            return faults.latency
        return faults.latency + self._delays.uniform(0.0, faults.jitter)

    def tied(
        self, faults: Faults, rows: list[int], start: int, offset: int, count: int
    ) -> list[int]:
        """Serve ``count`` rows from ``offset`` of ``rows`` (the tie groups from ``start``).

        Each tie group (``faults.tie_block`` positions) is shuffled afresh first.
        """
        block = faults.tie_block
        if block is None:
            return rows[offset - start : offset - start + count]
        shuffled: list[int] = []
        for low in range(0, len(rows), block):
            group = rows[low : low + block]
            self._ties.shuffle(group)
            shuffled.extend(group)
        return shuffled[offset - start : offset - start + count]

    def arrival_delay(self, faults: Faults) -> float:
        """Return how long this request spends on the way in, before it is counted."""
        if faults.arrival_jitter <= 0:
            return faults.arrival_delay
        return faults.arrival_delay + self._arrivals.uniform(0.0, faults.arrival_jitter)


@dataclass(frozen=True)
class Drift:
    """Change the account once, after the k-th request or ``at`` seconds.

    ``after_request=k`` applies the change as soon as the k-th ``/v1`` request has been
    answered from the data (before any later request reads it); ``at`` counts seconds
    from the server's start. ``insert`` and ``delete`` customers at ``position``
    (``start``, ``end`` or ``random`` of the order the latest customers list request
    used, id order ascending before any). The rest pick at random (from the drift
    stream, so a seed repeats them): ``visits`` customers are seen now (their
    ``lastSeen`` moves), ``add_chats`` chats are opened, ``add_messages`` messages go to
    chats (one each), ``close_chats`` chats are closed and ``reassign_chats`` chats get
    another assignee.
    """

    after_request: int | None = None
    at: float | None = None
    insert: int = 0
    delete: int = 0
    position: str = "start"
    visits: int = 0
    add_chats: int = 0
    add_messages: int = 0
    close_chats: int = 0
    reassign_chats: int = 0

    def __post_init__(self) -> None:
        """Check that exactly one trigger is set and the counts make sense."""
        if (self.after_request is None) == (self.at is None):
            raise ValueError("a Drift needs exactly one of after_request= or at=")
        if self.after_request is not None and self.after_request < 1:
            raise ValueError("after_request counts requests from 1")
        if self.at is not None and self.at < 0:
            raise ValueError("at must be >= 0 seconds")
        counts = (
            self.insert,
            self.delete,
            self.visits,
            self.add_chats,
            self.add_messages,
            self.close_chats,
            self.reassign_chats,
        )
        if any(count < 0 for count in counts):
            raise ValueError("drift counts must be >= 0")
        if self.position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}")


def parse_drift(spec: str) -> Drift:
    """Parse ``after=3,insert=150`` or ``at=0.5,delete=40,position=end`` (the CLI's syntax).

    The other counts are ``visits``, ``add_chats``, ``add_messages``, ``close_chats``
    and ``reassign_chats``.
    """
    fields: dict[str, str] = {}
    for part in spec.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"drift parts are name=value, got {part!r}")
        fields[name.strip()] = value.strip()
    counts = ("visits", "add_chats", "add_messages", "close_chats", "reassign_chats")
    known = {"after", "at", "insert", "delete", "position", *counts}
    if unknown := set(fields) - known:
        raise ValueError(f"unknown drift fields {sorted(unknown)}; known: {sorted(known)}")
    return Drift(
        after_request=int(fields["after"]) if "after" in fields else None,
        at=float(fields["at"]) if "at" in fields else None,
        insert=int(fields.get("insert", "0")),
        delete=int(fields.get("delete", "0")),
        position=fields.get("position", "start"),
        **{name: int(fields.get(name, "0")) for name in counts},
    )


def parse_fail(specs: Iterable[str]) -> dict[int, str]:
    """Parse ``K=KIND`` items (the CLI's ``--fail``) into the ``fail`` mapping."""
    fail: dict[int, str] = {}
    for spec in specs:
        number, sep, kind = spec.partition("=")
        if not sep or kind not in FAULT_KINDS:
            raise ValueError(f"--fail takes K=KIND with KIND in {FAULT_KINDS}, got {spec!r}")
        fail[int(number)] = kind
    return fail
