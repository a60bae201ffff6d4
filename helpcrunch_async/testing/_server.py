"""The emulator's aiohttp.web server: routes, the per-request pipeline, ``Emulator``.

Every ``/v1`` request goes through the same steps, in this order:

1. after the way in (``arrival_delay`` plus jitter, zero by default), its arrival
   time is taken (the server's ``monotonic`` clock) and it gets its number k;
2. the rate policy decides on it: every ``/v1`` request counts, whatever its
   credentials or parameters, as a gateway in front of the API would count it;
3. the fault dice decide on it (see ``_faults``);
4. the answer is computed: a forced status, else 429 if the policy refused, else 401
   for a missing or wrong ``Authorization: Bearer <key>``, else 400 with one entry per
   bad parameter, else the data;
5. it is logged, and drifts due after request k are applied;
6. latency is slept (the server's ``sleep``), then the answer is written (or dropped,
   cut, broken, withheld), with a ``Date`` header in the account's clock
   (``Dataset.now``), not the machine's.

``/_emulator/*`` admin routes need no key, are not rate limited and are not logged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import time
from typing import TYPE_CHECKING, Any, Self

from aiohttp import web

from helpcrunch_async.testing._account import Account
from helpcrunch_async.testing._account_changes import AccountChanges
from helpcrunch_async.testing._account_truth import AccountTruth
from helpcrunch_async.testing._admin import admin_routes
from helpcrunch_async.testing._chat_writes import ChatWrites
from helpcrunch_async.testing._chats import ChatData
from helpcrunch_async.testing._dataset import Dataset
from helpcrunch_async.testing._faults import Drift, FaultDice, Faults
from helpcrunch_async.testing._log import LogEntry
from helpcrunch_async.testing._pages import PageCache
from helpcrunch_async.testing._policies import (
    RateLimit,
    RatePolicy,
    retry_after_header,
    retry_after_seconds,
)
from helpcrunch_async.testing._read_answers import BAD_REQUEST, Answer, ReadAnswers
from helpcrunch_async.testing._team import build_team
from helpcrunch_async.testing._webhook_hub import WebhookHub
from helpcrunch_async.testing._webhooks import (
    Subscription,
    WebhookSender,
    WebhookSettings,
    one_clock,
)
from helpcrunch_async.testing._wire import (
    MALFORMED_BODIES,
    WireVariants,
    echo_header,
    status_body,
    truncated,
)
from helpcrunch_async.testing._write_faults import WriteDice, WriteFaults
from helpcrunch_async.testing._writes import AccountWrites, Reply
from helpcrunch_async.testing._written import Readings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Mapping
    from types import TracebackType

    _Compute = Callable[[web.Request, bytes], Answer]

_JSON = "application/json"
_TOO_MANY = 429
_FAULT_FIELDS = frozenset(f.name for f in dataclasses.fields(Faults))
# ``configure``'s rate names and the ``RateLimit`` fields they set.
_RATE_FIELDS = {
    "policy": "policy",
    "rate_limit": "limit",
    "rate_period": "period",
    "count_rejected": "count_rejected",
    "window_origin": "window_origin",
    "retry_after": "retry_after",
    "retry_after_resolution": "retry_after_resolution",
}
# Rate fields that change the 429's manners, not the policy's state.
_MANNERS = frozenset({"retry_after", "retry_after_resolution"})
_VARIANT_FIELDS = frozenset(f.name for f in dataclasses.fields(WireVariants))
# The grace given to in-flight handlers at stop before they are cancelled.
_SHUTDOWN_GRACE = 0.05


def _rate_limit(
    rate: RateLimit | None, policy: str | None, limit: int | None, period: float | None
) -> RateLimit:
    """Return ``rate``, or one built from the conveniences; refuse both at once."""
    if rate is None:
        default = RateLimit()
        return RateLimit(
            policy=default.policy if policy is None else policy,
            limit=default.limit if limit is None else limit,
            period=default.period if period is None else period,
        )
    if (policy, limit, period) != (None, None, None):
        raise TypeError(
            "give the rate limit once: rate=RateLimit(...) or policy=/rate_limit=/rate_period="
        )
    return rate


def _own_faults(faults: Faults | None, latency: float | None) -> Faults:
    """Return a copy of ``faults`` (runtime changes do not reach the caller's), checked."""
    if faults is None:
        own = Faults() if latency is None else Faults(latency=latency)
    elif latency is not None:
        raise TypeError("give the latency once: faults=Faults(latency=...) or latency=")
    else:
        own = dataclasses.replace(faults, fail=dict(faults.fail))
    own.validate()
    return own


class Emulator(AccountChanges, AccountTruth, ReadAnswers):
    """A HelpCrunch API emulator served by aiohttp.web on loopback.

    Use it as ``async with Emulator(customers=1000) as emu:`` and point a client at
    ``emu.base_url`` with ``emu.api_key``. Every knob can be changed while it runs,
    through ``configure``, ``faults`` and the drift methods (``insert``, ``delete``,
    ``visit``, ``add_chats``, ``add_messages``, ``close_chat``, ``reassign_chat``,
    ``delete_chats``).

    A few conveniences are keywords: ``customers``, ``chats``, ``seed``, ``api_key``,
    ``policy``/``rate_limit``/``rate_period`` and ``latency``. Everything else comes as
    a settings object, each described where it is defined:

    - ``account`` (an ``Account``): agents, departments, messages per chat and
      formats. The account is deterministic from ``seed`` and the sizes, made on
      demand.
    - ``rate`` (a ``RateLimit``): the policy and its manners (``count_rejected``,
      ``window_origin``, ``retry_after``, ``retry_after_resolution``); instead of the
      rate conveniences, not with them (TypeError).
    - ``faults`` (a ``Faults``, copied) with ``fault_seed`` and ``drift`` (``Drift``
      events): what goes wrong and when; ``latency`` is one of its fields, given there
      or as the convenience, not both (TypeError).
    - ``variants`` (a ``WireVariants``): the wire's shape where the reference
      documents several (error bodies, the messages' key and order, where totals go,
      ``updatedAt`` on chats).

    ``configure`` changes a setting of ``faults``, ``rate`` or ``variants`` (by its
    field name; ``rate_limit``, ``rate_period`` for the rate's) while it runs.
    ``host``, ``port`` and ``page_cache`` (customer pages kept encoded) shape the server.

    Writes (``_writes``, ``_chat_writes``) change the account for every later read;
    ``readings`` (a ``Readings``) picks among the readings the docs leave open,
    ``write_faults`` (a ``WriteFaults``) fail a write after it was applied, and
    ``clock`` (unix seconds; ``time.time`` by default) stamps what writes create and
    the webhooks they fire. The first two may be changed while it runs
    (``emu.readings``, ``emu.write_faults``).

    The server's own time is ``monotonic`` (seconds; ``time.monotonic`` by default):
    arrival stamps in the log, the rate policy's windows, ``started_at``. Every wait
    it makes (the way in, latency, a hang, a write's stall, a drift ``at``) is one
    call of ``sleep`` (``asyncio.sleep`` by default). A test injects both to see
    what the server waited for, and to decide when that time has passed.

    Webhooks: each of ``webhooks`` (a ``Subscription``, or a mapping of its arguments)
    gets a signed delivery, at least once, of every event the account's changes fire
    (see ``emit``), the API's writes included, or ``trigger`` sends;
    ``webhook_settings`` sets the retry schedule, the delivery faults and the bounds
    (see ``_webhooks`` and ``_webhook_plan``); a clock given there is the writes' too.
    """

    def __init__(
        self,
        *,
        customers: int = 1000,
        chats: int = 0,
        seed: int = 0,
        api_key: str = "test-key",
        policy: str | None = None,
        rate_limit: int | None = None,
        rate_period: float | None = None,
        latency: float | None = None,
        account: Account | None = None,
        rate: RateLimit | None = None,
        faults: Faults | None = None,
        variants: WireVariants | None = None,
        drift: Iterable[Drift] = (),
        fault_seed: int = 0,
        readings: Readings | None = None,
        write_faults: WriteFaults | None = None,
        webhooks: Iterable[Subscription | Mapping[str, Any]] = (),
        webhook_settings: WebhookSettings | None = None,
        clock: Callable[[], float] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        host: str = "127.0.0.1",
        port: int = 0,
        page_cache: int = 128,
    ) -> None:
        """Build the account and settings; nothing listens until ``start``."""
        self.account = account or Account()
        self.variants = variants or WireVariants()
        self.rate = _rate_limit(rate, policy, rate_limit, rate_period)
        self.faults = _own_faults(faults, latency)
        self.dataset = Dataset(
            customers,
            seed,
            custom_data_as_object=self.account.custom_data_as_object,
            timestamps_as_strings=self.account.timestamps_as_strings,
        )
        self.team = build_team(self.account.agents, self.account.departments, seed)
        self.chats = ChatData(
            chats,
            seed,
            self.dataset,
            self.team,
            messages_per_chat=self.account.messages_per_chat,
            timestamps_as_strings=self.account.timestamps_as_strings,
            with_updated_at=self.variants.chats_updated_at,
        )
        self._pages = PageCache(self.dataset, page_cache)
        self.api_key = api_key
        self.host = host
        self.port = port
        self.policy: RatePolicy = self.rate.build()
        self.drift: tuple[Drift, ...] = tuple(drift)
        self.log: list[LogEntry] = []
        self.started_at: float | None = None
        self._monotonic = monotonic
        self._wait = sleep
        self._dice = FaultDice(fault_seed)
        self._requests = 0
        self._last_order: tuple[str | None, bool] = (None, False)
        self._runner: web.AppRunner | None = None
        self._timers: list[asyncio.Task[None]] = []
        self._sleeping: set[asyncio.Task[Any]] = set()
        # Writes (``_writes``, ``_chat_writes``): ``readings`` picks among the docs'
        # open readings, ``write_faults`` strike after a write was applied.
        self.readings = readings or Readings()
        self.readings.validate()
        self.write_faults = write_faults or WriteFaults()
        self.write_faults.validate()
        self._write_dice = WriteDice(fault_seed)
        self._writes_applied = 0
        hooks = [Subscription.of(s) for s in webhooks]
        sender = WebhookSender(hooks, one_clock(clock, webhook_settings))
        self.webhooks = WebhookHub(self.dataset, self.chats, sender)
        if sender.wants("customer.deleted"):
            self.dataset.removing = self.webhooks.customer_removed
        # Writes stamp their records and the webhooks they fire by the one clock.
        style, clock = self._style, sender.clock
        hub = self.webhooks
        self.writes = AccountWrites(self.dataset, self.readings, style=style, clock=clock, hub=hub)
        self.chat_writes = ChatWrites(self.chats, self.readings, style=style, clock=clock, hub=hub)

    def _style(self) -> str:
        return self.variants.error_style

    @property
    def policy_name(self) -> str:
        """The rate policy's name (``rate.policy``)."""
        return self.rate.policy

    @property
    def retry_after(self) -> bool:
        """Whether a 429 carries ``Retry-After`` (``rate.retry_after``)."""
        return self.rate.retry_after

    # -- life cycle ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The server's root, e.g. ``http://127.0.0.1:8080`` (admin routes live here)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API's base, e.g. ``http://127.0.0.1:8080/v1``."""
        return f"{self.url}/v1"

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0 picks a free one, read it back from ``port``)."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        runner = web.AppRunner(
            self._app(),
            access_log=None,
            handle_signals=False,
            handler_cancellation=True,
            shutdown_timeout=_SHUTDOWN_GRACE,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        await self.webhooks.sender.start()
        self.port = runner.addresses[0][1]
        self.started_at = self._monotonic()
        self._timers = [
            asyncio.create_task(self._apply_at(change.at, change))
            for change in self.drift
            if change.at is not None
        ]

    async def stop(self) -> None:
        """Stop listening, cut in-flight answers short, close every connection."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
        # Sleeping handlers (latency, hang) would hold the shutdown for their whole delay.
        for task in list(self._sleeping):
            task.cancel()
        await self.webhooks.sender.stop()
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()

    # -- runtime control -----------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Change settings while running: fault, rate and variant fields, and ``api_key``.

        Fault fields are those of ``Faults``; rate fields are ``policy``, ``rate_limit``,
        ``rate_period``, ``count_rejected``, ``window_origin`` (these rebuild the
        policy with fresh state), ``retry_after`` and ``retry_after_resolution``; variant
        fields are the wire variants of the constructor (``error_style``, ``messages_key``,
        ``list_total``, ``customers_search_total``, ``chats_search_total``, ``chats_updated_at``,
        ``messages_order``).
        Invalid values change nothing.
        """
        unknown = set(changes) - _FAULT_FIELDS - _RATE_FIELDS.keys() - _VARIANT_FIELDS - {"api_key"}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        # Everything is checked before anything changes.
        variants = dataclasses.replace(
            self.variants, **{k: v for k, v in changes.items() if k in _VARIANT_FIELDS}
        )
        fault_changes = {k: v for k, v in changes.items() if k in _FAULT_FIELDS}
        faults = dataclasses.replace(self.faults, **fault_changes)
        faults.validate()
        rate_changes = {_RATE_FIELDS[k]: v for k, v in changes.items() if k in _RATE_FIELDS}
        rate = dataclasses.replace(self.rate, **rate_changes)
        self.variants = variants
        self.chats.with_updated_at = variants.chats_updated_at
        for name in fault_changes:
            setattr(self.faults, name, getattr(faults, name))
        if rate_changes.keys() - _MANNERS:
            self.policy = rate.build()
        self.rate = rate
        self.api_key = changes.get("api_key", self.api_key)

    def reset_log(self) -> None:
        """Forget the logged requests (the request numbering for ``fail`` continues)."""
        self.log.clear()

    def stats(self) -> dict[str, Any]:
        """Counters for humans and benchmarks."""
        statuses: dict[str, int] = {}
        for entry in self.log:
            statuses[str(entry.status)] = statuses.get(str(entry.status), 0) + 1
        return {
            "requests": self._requests,
            "logged": len(self.log),
            "rejected": sum(not entry.accepted for entry in self.log),
            "statuses": statuses,
            "total": self.total,
            "chats": self.chats_total,
            "policy": self.rate.policy,
            "rate_limit": self.rate.limit,
            "rate_period": self.rate.period,
        }

    # -- the application -----------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/customers", self._route(self._customers_answer))
        app.router.add_post("/v1/customers/search", self._route(self._customers_search_answer))
        app.router.add_get("/v1/customers/{id}", self._route(self._customer_answer))
        app.router.add_get("/v1/chats", self._route(self._chats_answer))
        app.router.add_post("/v1/chats/search", self._route(self._chats_search_answer))
        app.router.add_get("/v1/chats/{id}", self._route(self._chat_answer))
        app.router.add_get("/v1/chats/{id}/messages", self._route(self._messages_answer))
        app.router.add_get("/v1/agents", self._route(self._agents_answer))
        app.router.add_get("/v1/departments", self._route(self._departments_answer))
        self._add_write_routes(app)
        app.router.add_route("*", "/v1/{tail:.*}", self._route(self._unknown_answer))
        app.router.add_routes(admin_routes(self))
        return app

    def _add_write_routes(self, app: web.Application) -> None:
        w, c = self.writes, self.chat_writes
        routes: list[tuple[str, str, Callable[[dict[str, str], bytes], Reply]]] = [
            ("POST", "/v1/customers", lambda _, raw: w.create(raw)),
            ("PUT", "/v1/customers/batch", lambda _, raw: w.batch(raw)),
            ("PATCH", "/v1/customers/{id}", lambda m, raw: w.patch(m["id"], raw)),
            ("PUT", "/v1/customers/{id}", lambda m, raw: w.put(m["id"], raw)),
            ("DELETE", "/v1/customers/{id}", lambda m, _: w.delete(m["id"])),
            ("PUT", "/v1/customers/{id}/tags", lambda m, raw: w.tag(m["id"], raw, add=True)),
            ("DELETE", "/v1/customers/{id}/tags", lambda m, raw: w.tag(m["id"], raw, add=False)),
            ("POST", "/v1/events", lambda _, raw: w.event(raw)),
            ("GET", "/v1/organization", lambda _, __: w.organization()),
            ("GET", "/v1/applications", lambda _, __: w.applications()),
            ("POST", "/v1/chats", lambda _, raw: c.create(raw)),
            ("PUT", "/v1/chats/{action}", lambda m, raw: c.update(m["action"], raw)),
            ("POST", "/v1/messages", lambda _, raw: c.message(raw)),
        ]
        for method, path, handler in routes:

            def compute(
                request: web.Request,
                raw: bytes,
                handler: Callable[[dict[str, str], bytes], Reply] = handler,
            ) -> Answer:
                reply = handler(dict(request.match_info), raw)
                return Answer(reply.status, reply.body, applied=reply.applied)

            app.router.add_route(method, path, self._route(compute))

    def _route(self, compute: _Compute) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, compute)

        return handle

    async def _serve(self, request: web.Request, compute: _Compute) -> web.StreamResponse:
        inbound = self._dice.arrival_delay(self.faults)
        if inbound > 0:
            await self._sleep(inbound)
        arrival = self._monotonic()
        self._requests += 1
        number = self._requests
        accepted, wait = self.policy.admit(arrival)
        fault = self._dice.pick(self.faults, number, accepted=accepted)
        raw = await request.read() if request.can_read_body else b""
        answer = self._answer(request, raw, compute, fault, accepted=accepted, wait=wait)
        answer, after_write = self._after_write(request, answer)
        fault = fault if after_write is None else f"applied-{after_write}"
        self.log.append(
            LogEntry(
                arrival,
                request.method,
                request.path,
                request.query_string,
                answer.status,
                accepted,
                fault,
                raw.decode("utf-8", "replace") if raw else None,
            )
        )
        for change in self.drift:
            if change.after_request == number:
                self._apply(change)
        delay = self._dice.delay(self.faults)
        if fault == "hang":
            delay += self.faults.hang
        if after_write == "stall":
            delay += self.write_faults.stall
        if delay > 0:
            await self._sleep(delay)
        return await self._respond(request, answer, fault)

    def _after_write(self, request: web.Request, answer: Answer) -> tuple[Answer, str | None]:
        """Return the answer and the write fault (``_write_faults``) of an applied write."""
        if not answer.applied:
            return answer, None
        self._writes_applied += 1
        after_write = self._write_dice.pick(self.write_faults, self._writes_applied)
        if after_write == "500":
            answer = Answer(500, status_body(500, self.variants.error_style))
            if self.faults.echo_auth:
                answer.body = echo_header(answer.body, request.headers.get("Authorization"))
        return answer, after_write

    def _answer(
        self,
        request: web.Request,
        raw: bytes,
        compute: _Compute,
        fault: str | None,
        *,
        accepted: bool,
        wait: float | None,
    ) -> Answer:
        answer = self._compute(request, raw, compute, fault, accepted=accepted, wait=wait)
        if self.faults.echo_auth and answer.status >= BAD_REQUEST:
            answer.body = echo_header(answer.body, request.headers.get("Authorization"))
        return answer

    def _compute(
        self,
        request: web.Request,
        raw: bytes,
        compute: _Compute,
        fault: str | None,
        *,
        accepted: bool,
        wait: float | None,
    ) -> Answer:
        style = self.variants.error_style
        if fault is not None and fault.isdigit():
            status = int(fault)
            return Answer(status, status_body(status, style), self._retry_after(status, None))
        if fault == "hang":
            return Answer(504, status_body(504))
        if not accepted:
            return Answer(429, status_body(429, style), self._retry_after(429, wait))
        if not self._authorized(request.headers.get("Authorization")):
            return Answer(401, status_body(401, style))
        answer = compute(request, raw)
        if fault == "malformed":
            return Answer(200, MALFORMED_BODIES[self._requests % len(MALFORMED_BODIES)])
        return answer

    def _retry_after(self, status: int, wait: float | None) -> str | None:
        if status != _TOO_MANY or not self.rate.retry_after:
            return None
        return retry_after_header(retry_after_seconds(wait, self.rate.retry_after_resolution))

    def _authorized(self, header: str | None) -> bool:
        if header is None:
            return False
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and token.strip() == self.api_key

    async def _sleep(self, delay: float) -> None:
        task = asyncio.current_task()
        if task is None:
            await self._wait(delay)
            return
        self._sleeping.add(task)
        try:
            await self._wait(delay)
        finally:
            self._sleeping.discard(task)

    async def _apply_at(self, at: float, change: Drift) -> None:
        await self._wait(at)
        self._apply(change)

    async def _respond(
        self, request: web.Request, answer: Answer, fault: str | None
    ) -> web.StreamResponse:
        headers = {} if answer.retry_after is None else {"Retry-After": answer.retry_after}
        # The server's present is the account's clock (later than every timestamp
        # in it, as a real server's is), not the machine's: the Date a client sees.
        headers["Date"] = email.utils.formatdate(self.dataset.now, usegmt=True)
        if fault == "truncate":
            return web.Response(
                status=answer.status,
                body=truncated(answer.body),
                content_type=_JSON,
                headers=headers,
            )
        if fault == "drop":
            return await self._drop(request, answer, headers)
        if fault == "applied-drop":
            # Hang up before a byte of the answer: the client cannot tell what happened.
            transport = request.transport
            if transport is not None:
                transport.close()
            raise asyncio.CancelledError
        return web.Response(
            status=answer.status, body=answer.body, content_type=_JSON, headers=headers
        )

    async def _drop(
        self, request: web.Request, answer: Answer, headers: dict[str, str]
    ) -> web.StreamResponse:
        # Promise the whole body, send half of it, hang up: the client's read fails.
        response = web.StreamResponse(status=answer.status, headers=headers)
        response.content_type = _JSON
        response.content_length = len(answer.body)
        await response.prepare(request)
        await response.write(answer.body[: len(answer.body) // 2])
        transport = request.transport
        if transport is not None:
            transport.close()
        return response
