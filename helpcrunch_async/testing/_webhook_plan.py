"""How the emulator delivers webhooks: the retry schedule, the fault dice, the URL rule.

Pure: no sockets, no clock. The sender (``_webhooks``) asks these functions what to do
and does it. The rules:

1. Each event goes to every subscription that takes its type, as one delivery each.
2. Attempt ``n`` (0 first) carries ``attempts = n`` and ``lastAttemptAt`` = the time of
   that attempt, and is signed afresh; ``createdAt`` and ``id`` stay the same.
3. A 2xx answer delivers. Anything else (another status, a timeout, a refused or
   broken connection, a lost attempt) fails the attempt: attempt ``n + 1`` follows
   ``schedule.delays[n] * schedule.scale`` seconds later, until the delays run out;
   then the delivery is given up. HelpCrunch documents no schedule: this one is
   ours (about a day and a half in all, like common senders), and ``scale``
   compresses it for tests (``scale=0.001``: about two minutes in all).
4. Faults are a pure function of ``(seed, event number, subscription, attempt, kind)``,
   so a seed repeats them whatever the timing: ``loss_rate`` (the attempt never
   reaches the receiver; the sender counts it as a timeout at once),
   ``bad_signature_rate`` (the attempt is signed with a wrong key),
   ``duplicate_rate`` (after a 2xx, the same bytes are sent once more),
   ``string_data_rate`` (``eventData`` sent as a JSON string, as one consumer saw),
   ``overlap_rate`` (the attempt is given up as timed out while still in flight and
   the next one is sent beside it at once: two copies of the event reach the
   receiver together, and only the second's answer counts, as with a sender
   whose timeout is shorter than the receiver's handler),
   ``delay`` plus uniform ``delay_jitter`` seconds before each attempt, and
   ``reorder_rate`` (an event is held back until the next event to the same
   subscription has been queued, or ``reorder_wait`` seconds).
5. Deliveries go only to loopback hosts (``127.0.0.0/8``, ``::1``, ``localhost``)
   unless a subscription sets ``allow_remote``; the scheme is http or https.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

# Rule 3: seconds before attempt n + 1, after attempt n failed (9 retries, ~1.5 days).
DEFAULT_DELAYS: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 7200, 21600, 86400)
_SUCCESS = range(200, 300)
_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})
_UNIT = float(1 << 53)


@dataclass(frozen=True)
class RetrySchedule:
    """Seconds between attempts (rule 3); ``scale`` multiplies every delay."""

    delays: tuple[float, ...] = DEFAULT_DELAYS
    scale: float = 1.0

    def __post_init__(self) -> None:
        """Refuse negative or non-finite delays and scales."""
        if not all(math.isfinite(d) and d >= 0 for d in (*self.delays, self.scale)):
            raise ValueError("retry delays and scale must be finite and >= 0")

    def after(self, attempt: int) -> float | None:
        """Return the seconds before the attempt after ``attempt``, or None to give up."""
        if attempt >= len(self.delays):
            return None
        return self.delays[attempt] * self.scale


@dataclass(frozen=True)
class DeliveryFaults:
    """What goes wrong on the way to the receiver (rule 4); all off by default."""

    loss_rate: float = 0.0
    bad_signature_rate: float = 0.0
    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    string_data_rate: float = 0.0
    overlap_rate: float = 0.0
    delay: float = 0.0
    delay_jitter: float = 0.0
    reorder_wait: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        """Refuse rates outside [0, 1] and negative or non-finite times."""
        rates = {
            "loss_rate": self.loss_rate,
            "bad_signature_rate": self.bad_signature_rate,
            "duplicate_rate": self.duplicate_rate,
            "reorder_rate": self.reorder_rate,
            "string_data_rate": self.string_data_rate,
            "overlap_rate": self.overlap_rate,
        }
        for name, rate in rates.items():
            if not 0 <= rate <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {rate!r}")
        times = {"delay": self.delay, "delay_jitter": self.delay_jitter}
        times["reorder_wait"] = self.reorder_wait
        for name, value in times.items():
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")


class AttemptPlan(NamedTuple):
    """What happens to one attempt (rule 4)."""

    delay: float
    lost: bool
    bad_signature: bool
    duplicate: bool
    string_data: bool
    overlap: bool = False


def roll(seed: int, kind: str, *key: int) -> float:
    """Return a draw in [0, 1) that depends only on its arguments."""
    text = "-".join(map(str, (seed, kind, *key))).encode()
    return (int.from_bytes(hashlib.blake2b(text, digest_size=8).digest()) >> 11) / _UNIT


def plan_attempt(faults: DeliveryFaults, number: int, lane: int, attempt: int) -> AttemptPlan:
    """Return the faults of attempt ``attempt`` of event ``number`` to subscription ``lane``."""
    key = (number, lane, attempt)
    seed = faults.seed
    jitter = faults.delay_jitter * roll(seed, "jitter", *key) if faults.delay_jitter else 0.0
    return AttemptPlan(
        delay=faults.delay + jitter,
        lost=roll(seed, "loss", *key) < faults.loss_rate,
        bad_signature=roll(seed, "signature", *key) < faults.bad_signature_rate,
        duplicate=roll(seed, "duplicate", *key) < faults.duplicate_rate,
        string_data=roll(seed, "string", *key) < faults.string_data_rate,
        overlap=roll(seed, "overlap", *key) < faults.overlap_rate,
    )


def held_back(faults: DeliveryFaults, number: int, lane: int) -> bool:
    """Return whether event ``number`` waits behind the next one to ``lane`` (rule 4)."""
    return roll(faults.seed, "reorder", number, lane) < faults.reorder_rate


def delivered(status: int | None) -> bool:
    """Return whether an attempt's answer delivers the event (rule 3)."""
    return status in _SUCCESS


class Target(NamedTuple):
    """Where a subscription's deliveries go, checked (rule 5)."""

    tls: bool
    host: str
    port: int
    path: str

    @property
    def authority(self) -> str:
        """The ``Host`` header's value."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def check_url(url: str, *, allow_remote: bool = False) -> Target:
    """Return the target of a subscription URL, or raise ValueError naming the problem."""
    if not isinstance(url, str):
        raise TypeError(f"a webhook URL is a str, got {type(url).__name__}")
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError("a webhook URL is printable ASCII without spaces: percent-encode the rest")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"a webhook URL is http:// or https://, got scheme {parts.scheme!r}")
    host = parts.hostname
    if not host:
        raise ValueError("a webhook URL needs a host")
    try:
        port = parts.port
    except ValueError as error:
        raise ValueError(f"a webhook URL's port is invalid: {error}") from None
    if not allow_remote and not _loopback(host):
        raise ValueError(
            f"webhook host {host!r} is not loopback: the emulator delivers to 127.0.0.1, "
            "::1 or localhost unless the subscription sets allow_remote=True"
        )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    tls = parts.scheme == "https"
    return Target(tls, host, port if port is not None else (443 if tls else 80), path)


def _loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
