"""Faults that strike after a write was applied: the cases whose fate a client cannot see.

Pure: no sockets, no clock. The server counts the writes it applied (a refused write,
a 4xx, is not counted) and asks ``WriteDice.pick`` once per applied write:

- ``fail={k: kind}`` strikes the k-th applied write (1-based);
- otherwise one uniform draw falls into ``drop_rate``, then ``error_rate``, then
  ``stall_rate`` (their sum at most 1).

Kinds: ``drop`` (the connection is closed before any byte of the answer), ``500``
(the answer is a 500 with an ``errors`` body), ``stall`` (the answer waits ``stall``
seconds, past any sane client timeout). In each the account has changed. The log
names the fault ``applied-<kind>``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

WRITE_FAULT_KINDS = ("drop", "500", "stall")


@dataclass
class WriteFaults:
    """The settings of the after-the-write faults; mutable while the server runs."""

    fail: dict[int, str] = field(default_factory=dict)
    drop_rate: float = 0.0
    error_rate: float = 0.0
    stall_rate: float = 0.0
    stall: float = 3600.0

    def validate(self) -> None:
        """Raise ValueError for unknown kinds, rates outside [0, 1] or a negative stall."""
        rates = (self.drop_rate, self.error_rate, self.stall_rate)
        if any(not 0 <= rate <= 1 for rate in rates) or sum(rates) > 1:
            raise ValueError(f"write fault rates must lie in [0, 1] and sum to at most 1: {rates}")
        if self.stall < 0:
            raise ValueError("stall must be >= 0 seconds")
        for number, kind in self.fail.items():
            if number < 1 or kind not in WRITE_FAULT_KINDS:
                raise ValueError(f"write fail entries are {{k >= 1: kind in {WRITE_FAULT_KINDS}}}")


class WriteDice:
    """The seeded stream that picks each applied write's fault."""

    def __init__(self, seed: int = 0) -> None:
        """Seed the stream."""
        self._rng = random.Random(f"helpcrunch-emulator-write-faults-{seed}")

    def pick(self, faults: WriteFaults, number: int) -> str | None:
        """Return the fault of the ``number``-th applied write, or None."""
        draw = self._rng.random()
        forced = faults.fail.get(number)
        if forced is not None:
            return forced
        for kind, rate in (
            ("drop", faults.drop_rate),
            ("500", faults.error_rate),
            ("stall", faults.stall_rate),
        ):
            if draw < rate:
                return kind
            draw -= rate
        return None
