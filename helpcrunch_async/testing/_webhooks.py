"""The emulator's webhook sender: subscriptions, a bounded queue, retries, faults.

``Emulator(webhooks=[Subscription(url, secret, events)])`` hands every event it emits
to a ``WebhookSender``, which delivers it to each subscription at least once, by the
rules of ``_webhook_plan`` (schedule, faults, loopback only) with bodies made by
``_webhook_events``, signed as HelpCrunch signs them (``webhooks.sign``).

Per subscription one worker sends one attempt at a time, in the order the events were
emitted, except where a retry or a reorder fault says otherwise; a failed attempt
waits on a timer, off the queue, so it holds nothing up. What it bounds: the
deliveries not yet settled (``queue_size``; an event past it is dropped, counted in
``overflowed`` and logged), each attempt end to end (``timeout``), and the answer read
(64 KiB). ``stop`` cancels the workers and timers and closes their connections;
deliveries still pending then are abandoned (``await settled()`` first to wait for
them). Every attempt is recorded in ``records``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import secrets
import time
from typing import TYPE_CHECKING, Any

import msgspec

from helpcrunch_async.testing._webhook_events import EVENT_TYPES, check_event, envelope, event_id
from helpcrunch_async.testing._webhook_http import AnswerError, post
from helpcrunch_async.testing._webhook_plan import (
    AttemptPlan,
    DeliveryFaults,
    RetrySchedule,
    Target,
    check_url,
    delivered,
    held_back,
    plan_attempt,
)
from helpcrunch_async.webhooks import SIGNATURE_HEADER, SigningSecret, sign

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

logger = logging.getLogger("helpcrunch_async.testing")

# The key that signs a ``bad_signature`` fault's attempts: never a subscription's own.
_WRONG_KEY = SigningSecret("helpcrunch-emulator-wrong-key")
# What HelpCrunch's sender announces itself as (the vendor's sample shows Guzzle).
USER_AGENT = "GuzzleHttp/6.5.5 (helpcrunch-async emulator)"


class Subscription:
    """Where the emulator delivers: a URL, its signing secret, the event types it takes.

    ``events`` None takes all 20 types. The URL must be loopback unless
    ``allow_remote``. The secret is kept as a ``SigningSecret``: it shows in no repr.
    """

    __slots__ = ("allow_remote", "events", "secret", "target", "url")

    def __init__(
        self,
        url: str,
        secret: str | SigningSecret,
        events: Iterable[str] | None = None,
        *,
        allow_remote: bool = False,
    ) -> None:
        """Check every argument, naming the problem (never the secret)."""
        self.url = url
        key = SigningSecret(secret) if isinstance(secret, str) and secret else secret
        # Whatever is raised below, no frame's locals hold the secret's text.
        del secret
        if not isinstance(key, SigningSecret):
            raise TypeError("a subscription's secret is a non-empty str")
        self.secret: SigningSecret = key
        self.target: Target = check_url(url, allow_remote=allow_remote)
        self.allow_remote = allow_remote
        if isinstance(events, str):
            raise TypeError("events is a list of event types, not one str")
        chosen = EVENT_TYPES if events is None else tuple(map(check_event, events))
        if not chosen:
            raise ValueError("a subscription takes at least one event type (None: all)")
        self.events: frozenset[str] = frozenset(chosen)

    def __repr__(self) -> str:
        """Show the URL and the number of event types, never the secret."""
        # getattr: a half-built one (a traceback's locals) shows too.
        events = len(getattr(self, "events", ()))
        return f"Subscription({getattr(self, 'url', None)!r}, events={events} types)"

    @classmethod
    def of(cls, value: Subscription | Mapping[str, Any]) -> Subscription:
        """Return ``value`` as a subscription (a mapping holds the constructor's arguments)."""
        return value if isinstance(value, Subscription) else cls(**value)


@dataclasses.dataclass(frozen=True)
class WebhookSettings:
    """How the sender behaves: schedule, faults, bounds and clock.

    ``clock`` gives the envelope's unix seconds (``createdAt``, ``lastAttemptAt``);
    None (the default) is the emulator's own clock (``Emulator(clock=...)``, the one
    its writes stamp records by; ``time.time`` without one). ``timeout`` bounds one
    attempt; ``queue_size`` bounds the unsettled deliveries.
    Event ids are random UUIDs, unique across runs (a receiver's dedup store may
    outlive a test run), unless ``id_seed`` makes them repeat with it.
    """

    schedule: RetrySchedule = dataclasses.field(default_factory=RetrySchedule)
    faults: DeliveryFaults = dataclasses.field(default_factory=DeliveryFaults)
    timeout: float = 5.0
    queue_size: int = 10_000
    clock: Callable[[], float] | None = None
    id_seed: int | None = None

    def __post_init__(self) -> None:
        """Refuse a non-positive timeout or queue size."""
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ValueError(f"the webhook timeout must be > 0 seconds, got {self.timeout!r}")
        if self.queue_size < 1:
            raise ValueError(f"the webhook queue_size must be >= 1, got {self.queue_size!r}")


def one_clock(
    clock: Callable[[], float] | None, settings: WebhookSettings | None
) -> WebhookSettings:
    """Return ``settings`` (default ones if None) whose clock is the emulator's ``clock``.

    An emulator has one clock: its writes and its webhooks read the same. Given in one
    place (``Emulator(clock=...)`` or ``WebhookSettings(clock=...)``) it serves both;
    two different clocks are refused (ValueError); none at all is ``time.time``.
    """
    settings = settings or WebhookSettings()
    if settings.clock is None:
        return dataclasses.replace(settings, clock=clock or time.time)
    if clock is not None and clock is not settings.clock:
        raise ValueError(
            "two clocks: give Emulator(clock=...) or WebhookSettings(clock=...), not both; "
            "the emulator's writes and webhooks read one clock"
        )
    return settings


class DeliveryRecord(msgspec.Struct, frozen=True):
    """One attempt as the sender saw it.

    ``outcome`` is ``delivered`` (2xx), ``refused`` (another status), ``timeout``,
    ``error`` (connection refused or broken, or not HTTP), ``lost`` (a loss fault:
    never sent), ``duplicate`` (a duplicate fault's second copy) or ``overlapped``
    (an overlap fault's attempt, given up while in flight: its answer is not
    heeded). ``status`` is the answer's code, if one came; ``bad_signature`` tells a
    signature fault; ``time`` is ``time.monotonic()`` when the attempt ended.
    """

    event_id: str
    event: str
    url: str
    attempts: int
    outcome: str
    status: int | None = None
    bad_signature: bool = False
    time: float = 0.0


@dataclasses.dataclass(slots=True)
class _Delivery:
    number: int
    ident: str
    event: str
    data: dict[str, Any]
    created_at: int
    attempt: int = 0


@dataclasses.dataclass(slots=True)
class _Lane:
    index: int
    subscription: Subscription
    queue: asyncio.Queue[_Delivery] = dataclasses.field(default_factory=asyncio.Queue)
    held: _Delivery | None = None
    worker: asyncio.Task[None] | None = None


class WebhookSender:
    """Deliver emitted events to subscriptions (see the module docstring)."""

    def __init__(self, subscriptions: Iterable[Subscription], settings: WebhookSettings) -> None:
        """Keep the subscriptions; nothing is sent before ``start``."""
        self.settings = settings
        self._id_seed = secrets.randbits(64) if settings.id_seed is None else settings.id_seed
        self._lanes = [_Lane(i, s) for i, s in enumerate(subscriptions)]
        self._wanted = frozenset().union(*(lane.subscription.events for lane in self._lanes))
        self.records: list[DeliveryRecord] = []
        self.overflowed = 0
        self.given_up = 0
        self._events = 0
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._running = False

    @property
    def clock(self) -> Callable[[], float]:
        """The clock of the envelopes' unix seconds (``settings.clock``, else ``time.time``)."""
        return self.settings.clock or time.time

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """The subscriptions, in the order given."""
        return tuple(lane.subscription for lane in self._lanes)

    def wants(self, event: str) -> bool:
        """Return whether any subscription takes ``event`` (else emitting costs nothing)."""
        return event in self._wanted

    # -- emitting -------------------------------------------------------------------

    def submit(self, event: str, data: dict[str, Any]) -> str:
        """Queue ``event`` and its ``eventData`` for each subscription taking it; return its id."""
        self._events += 1
        number = self._events
        ident = event_id(self._id_seed, number)
        created = int(self.clock())
        for lane in self._lanes:
            if event not in lane.subscription.events:
                continue
            if self._pending >= self.settings.queue_size:
                self.overflowed += 1
                url = lane.subscription.url
                logger.warning("webhook queue full: event %s to %s dropped", ident, url)
                continue
            self._pending += 1
            self._idle.clear()
            self._queue(lane, _Delivery(number, ident, event, data, created))
        return ident

    def _queue(self, lane: _Lane, delivery: _Delivery) -> None:
        faults = self.settings.faults
        if lane.held is not None:
            held, lane.held = lane.held, None
            lane.queue.put_nowait(delivery)
            lane.queue.put_nowait(held)
        elif faults.reorder_rate and held_back(faults, delivery.number, lane.index):
            lane.held = delivery
            self._later(faults.reorder_wait, self._release, lane, delivery)
        else:
            lane.queue.put_nowait(delivery)

    def _release(self, lane: _Lane, delivery: _Delivery) -> None:
        if lane.held is delivery:
            lane.held = None
            lane.queue.put_nowait(delivery)

    def _later(self, delay: float, callback: Callable[..., None], *args: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # only a reorder hold comes here unstarted, and ``start`` releases it
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            callback(*args)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    # -- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Start one worker per subscription."""
        if self._running:
            return
        self._running = True
        for lane in self._lanes:
            if lane.held is not None:
                self._release(lane, lane.held)
            lane.worker = asyncio.create_task(self._work(lane), name="helpcrunch-webhooks")

    async def stop(self) -> None:
        """Cancel the workers and timers; pending deliveries are abandoned."""
        self._running = False
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        workers = [lane.worker for lane in self._lanes if lane.worker is not None]
        for lane in self._lanes:
            lane.worker = None
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    async def settled(self) -> None:
        """Wait until every delivery is delivered or given up (bound it with asyncio.timeout)."""
        await self._idle.wait()

    @property
    def pending(self) -> int:
        """The deliveries neither delivered nor given up."""
        return self._pending

    # -- sending --------------------------------------------------------------------

    async def _work(self, lane: _Lane) -> None:
        while True:
            delivery = await lane.queue.get()
            await self._attempt(lane, delivery)

    async def _attempt(self, lane: _Lane, delivery: _Delivery) -> None:
        settings = self.settings
        plan = plan_attempt(settings.faults, delivery.number, lane.index, delivery.attempt)
        if plan.delay > 0:
            await asyncio.sleep(plan.delay)
        subscription = lane.subscription
        if plan.overlap and settings.schedule.after(delivery.attempt) is not None:
            outcome, request = await self._overlapped(lane, delivery, plan)
        else:
            request = self._request(lane, delivery, plan)
            outcome = await self._one(lane, delivery, plan, request)
        if outcome == "delivered":
            if plan.duplicate:
                _, again = await self._send(subscription, *request)
                self._record(lane, delivery, "duplicate", again, bad_signature=False)
            self._settle()
            return
        wait = settings.schedule.after(delivery.attempt)
        if wait is None:
            self.given_up += 1
            logger.warning("webhook %s to %s given up", delivery.ident, subscription.url)
            self._settle()
            return
        delivery.attempt += 1
        self._later(wait, lane.queue.put_nowait, delivery)

    def _request(
        self, lane: _Lane, delivery: _Delivery, plan: AttemptPlan
    ) -> tuple[bytes, dict[str, str]]:
        """Return the body and headers of ``delivery``'s current attempt, signed now."""
        data: dict[str, Any] | str = delivery.data
        if plan.string_data:
            data = msgspec.json.encode(delivery.data).decode()
        body = envelope(
            delivery.event,
            data,
            ident=delivery.ident,
            created_at=delivery.created_at,
            attempts=delivery.attempt,
            last_attempt_at=int(self.clock()),
        )
        key = _WRONG_KEY if plan.bad_signature else lane.subscription.secret
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(body, key),
        }
        return body, headers

    async def _one(
        self,
        lane: _Lane,
        delivery: _Delivery,
        plan: AttemptPlan,
        request: tuple[bytes, dict[str, str]],
    ) -> str:
        """Send one attempt (or lose it); record and return its outcome."""
        if plan.lost:
            outcome, status = "lost", None
        else:
            outcome, status = await self._send(lane.subscription, *request)
        sent_bad = plan.bad_signature and not plan.lost
        self._record(lane, delivery, outcome, status, bad_signature=sent_bad)
        return outcome

    async def _overlapped(
        self, lane: _Lane, delivery: _Delivery, plan: AttemptPlan
    ) -> tuple[str, tuple[bytes, dict[str, str]]]:
        """Send this attempt and the next one at once; the next one's answer decides.

        As a sender whose timeout is shorter than the receiver's handler: it gives the
        first attempt up while it is still in flight and retries at once, so the two
        reach the receiver together. The first is recorded as ``overlapped``.
        """
        first = self._request(lane, delivery, plan._replace(lost=False, bad_signature=False))
        earlier = dataclasses.replace(delivery)
        delivery.attempt += 1
        second_plan = plan_attempt(
            self.settings.faults, delivery.number, lane.index, delivery.attempt
        )._replace(lost=False)
        second = self._request(lane, delivery, second_plan)
        (_, status), outcome = await asyncio.gather(
            self._send(lane.subscription, *first),
            self._one(lane, delivery, second_plan, second),
        )
        self._record(lane, earlier, "overlapped", status, bad_signature=False)
        return outcome, second

    async def _send(
        self, subscription: Subscription, body: bytes, headers: dict[str, str]
    ) -> tuple[str, int | None]:
        loopback = not subscription.allow_remote
        try:
            async with asyncio.timeout(self.settings.timeout):
                status = await post(subscription.target, body, headers, loopback=loopback)
        except TimeoutError:
            return "timeout", None
        except (OSError, AnswerError, ValueError):
            return "error", None
        return ("delivered" if delivered(status) else "refused"), status

    def _record(
        self,
        lane: _Lane,
        delivery: _Delivery,
        outcome: str,
        status: int | None,
        *,
        bad_signature: bool,
    ) -> None:
        self.records.append(
            DeliveryRecord(
                delivery.ident,
                delivery.event,
                lane.subscription.url,
                delivery.attempt,
                outcome,
                status,
                bad_signature,
                time.monotonic(),
            )
        )

    def _settle(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self._idle.set()

    def stats(self) -> dict[str, int]:
        """Counters: events emitted, attempts by outcome, pending, given up, overflowed."""
        counts: dict[str, int] = {}
        for record in self.records:
            counts[record.outcome] = counts.get(record.outcome, 0) + 1
        attempts = len(self.records) - counts.get("duplicate", 0)
        return {
            "events": self._events,
            "attempts": attempts,
            **counts,
            "pending": self._pending,
            "given_up": self.given_up,
            "overflowed": self.overflowed,
        }
