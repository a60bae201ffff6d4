"""The emulator's aiohttp.web server: routes, the per-request pipeline, ``Emulator``.

Every ``/v1`` request goes through the same steps, in this order:

1. after the way in (``arrival_delay`` plus jitter, zero by default), its arrival
   time is taken (``time.monotonic()``) and it gets its number k;
2. the rate policy decides on it: every ``/v1`` request counts, whatever its
   credentials or parameters, as a gateway in front of the API would count it;
3. the fault dice decide on it (see ``_faults``);
4. the answer is computed: a forced status, else 429 if the policy refused, else 401
   for a missing or wrong ``Authorization: Bearer <key>``, else 400 with one entry per
   bad parameter, else the data;
5. it is logged, and drifts due after request k are applied;
6. latency is slept, then the answer is written (or dropped, cut, broken, withheld).

``/_emulator/*`` admin routes need no key, are not rate limited and are not logged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import TYPE_CHECKING, Any, Self

import msgspec
from aiohttp import web

from helpcrunch_async.testing._admin import admin_routes
from helpcrunch_async.testing._dataset import Dataset
from helpcrunch_async.testing._faults import Drift, FaultDice, Faults
from helpcrunch_async.testing._log import LogEntry
from helpcrunch_async.testing._pages import PageCache
from helpcrunch_async.testing._policies import RatePolicy, make_policy, retry_after_seconds
from helpcrunch_async.testing._wire import (
    MALFORMED_BODIES,
    ListQuery,
    parse_list_query,
    status_body,
    truncated,
    validation_body,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from types import TracebackType

_JSON = "application/json"
_TOO_MANY = 429
_FAULT_FIELDS = frozenset(f.name for f in dataclasses.fields(Faults))
_RATE_FIELDS = frozenset(
    {"policy", "rate_limit", "rate_period", "count_rejected", "window_origin", "retry_after"}
)
# The grace given to in-flight handlers at stop before they are cancelled.
_SHUTDOWN_GRACE = 0.05


@dataclasses.dataclass(slots=True)
class _Answer:
    status: int
    body: bytes
    retry_after: int | None = None


class Emulator:
    """A HelpCrunch API emulator served by aiohttp.web on loopback.

    Use it as ``async with Emulator(customers=1000) as emu:`` and point a client at
    ``emu.base_url`` with ``emu.api_key``. Every knob can be changed while it runs,
    through ``configure``, ``faults``, ``insert`` and ``delete``.
    """

    def __init__(
        self,
        *,
        customers: int = 1000,
        seed: int = 0,
        api_key: str = "test-key",
        policy: str = "none",
        rate_limit: int = 120,
        rate_period: float = 60.0,
        retry_after: bool = True,
        count_rejected: bool = False,
        window_origin: float = 0.0,
        latency: float = 0.0,
        jitter: float = 0.0,
        arrival_delay: float = 0.0,
        arrival_jitter: float = 0.0,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        truncate_rate: float = 0.0,
        malformed_rate: float = 0.0,
        fail: Mapping[int, str] | None = None,
        hang: float = 3600.0,
        fault_seed: int = 0,
        drift: Iterable[Drift] = (),
        custom_data_as_object: bool = False,
        timestamps_as_strings: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        page_cache: int = 128,
    ) -> None:
        """Build the dataset and settings; nothing listens until ``start``."""
        self.dataset = Dataset(
            customers,
            seed,
            custom_data_as_object=custom_data_as_object,
            timestamps_as_strings=timestamps_as_strings,
        )
        self._pages = PageCache(self.dataset, page_cache)
        self.api_key = api_key
        self.host = host
        self.port = port
        self.faults = Faults(
            latency=latency,
            jitter=jitter,
            arrival_delay=arrival_delay,
            arrival_jitter=arrival_jitter,
            error_rate=error_rate,
            drop_rate=drop_rate,
            truncate_rate=truncate_rate,
            malformed_rate=malformed_rate,
            fail=dict(fail or {}),
            hang=hang,
        )
        self.faults.validate()
        self.policy_name = policy
        self.rate_limit = rate_limit
        self.rate_period = rate_period
        self.count_rejected = count_rejected
        self.window_origin = window_origin
        self.retry_after = retry_after
        self.policy: RatePolicy = self._make_policy()
        self.drift: tuple[Drift, ...] = tuple(drift)
        self.log: list[LogEntry] = []
        self.started_at: float | None = None
        self._dice = FaultDice(fault_seed)
        self._requests = 0
        self._last_order: tuple[str | None, bool] = (None, False)
        self._runner: web.AppRunner | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self._sleeping: set[asyncio.Task[Any]] = set()

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
        self.port = runner.addresses[0][1]
        self.started_at = time.monotonic()
        loop = asyncio.get_running_loop()
        self._timers = [
            loop.call_later(change.at, self._apply, change)
            for change in self.drift
            if change.at is not None
        ]

    async def stop(self) -> None:
        """Stop listening, cut in-flight answers short, close every connection."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        for timer in self._timers:
            timer.cancel()
        self._timers = []
        # Sleeping handlers (latency, hang) would hold the shutdown for their whole delay.
        for task in list(self._sleeping):
            task.cancel()
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
        """Change settings while running: fault fields, rate fields and ``api_key``.

        Fault fields are those of ``Faults``; rate fields are ``policy``, ``rate_limit``,
        ``rate_period``, ``count_rejected``, ``window_origin`` (these rebuild the
        policy with fresh state) and ``retry_after``. Invalid values change nothing.
        """
        unknown = set(changes) - _FAULT_FIELDS - _RATE_FIELDS - {"api_key"}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        fault_changes = {k: v for k, v in changes.items() if k in _FAULT_FIELDS}
        faults = dataclasses.replace(self.faults, **fault_changes)
        faults.validate()
        rate = {
            "policy_name": changes.get("policy", self.policy_name),
            "rate_limit": changes.get("rate_limit", self.rate_limit),
            "rate_period": changes.get("rate_period", self.rate_period),
            "count_rejected": changes.get("count_rejected", self.count_rejected),
            "window_origin": changes.get("window_origin", self.window_origin),
        }
        policy = make_policy(
            rate["policy_name"],
            rate["rate_limit"],
            rate["rate_period"],
            count_rejected=rate["count_rejected"],
            origin=rate["window_origin"],
        )
        for name in fault_changes:
            setattr(self.faults, name, getattr(faults, name))
        if changes.keys() & (_RATE_FIELDS - {"retry_after"}):
            for name, value in rate.items():
                setattr(self, name, value)
            self.policy = policy
        self.retry_after = changes.get("retry_after", self.retry_after)
        self.api_key = changes.get("api_key", self.api_key)

    def _make_policy(self) -> RatePolicy:
        return make_policy(
            self.policy_name,
            self.rate_limit,
            self.rate_period,
            count_rejected=self.count_rejected,
            origin=self.window_origin,
        )

    def insert(self, count: int, position: str = "start") -> list[int]:
        """Insert ``count`` customers at ``position`` of the latest list request's order."""
        _, descending = self._last_order
        return self.dataset.insert(count, position, descending=descending)

    def delete(
        self, count: int = 0, position: str = "start", *, ids: Iterable[int] = ()
    ) -> list[int]:
        """Delete the customers with ``ids``, then ``count`` more from ``position``.

        ``position`` refers to the order of the latest list request (id order before
        any). Returns the deleted ids.
        """
        removed = self.dataset.delete_ids(ids)
        if count:
            sort, descending = self._last_order
            removed += self.dataset.delete(count, position, sort=sort, descending=descending)
        return removed

    def _apply(self, change: Drift) -> None:
        if change.delete:
            self.delete(change.delete, change.position)
        if change.insert:
            self.insert(change.insert, change.position)

    # -- truth for tests -----------------------------------------------------------

    @property
    def total(self) -> int:
        """The current number of customers."""
        return self.dataset.total

    def expected_ids(self, sort: str | None = None, order: str = "asc") -> list[int]:
        """Return every current id in the server's order for ``sort`` and ``order``."""
        if order not in ("asc", "desc"):
            raise ValueError("order is 'asc' or 'desc'")
        return self.dataset.ids(sort, descending=order == "desc")

    def customer_json(self, customer_id: int) -> bytes | None:
        """Return the exact bytes the server sends for a customer, or None if absent."""
        return self.dataset.customer_json(customer_id)

    def customer(self, customer_id: int) -> dict[str, Any] | None:
        """Return the customer decoded to a dict, or None if absent."""
        body = self.customer_json(customer_id)
        return None if body is None else msgspec.json.decode(body, type=dict[str, Any])

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
            "policy": self.policy_name,
            "rate_limit": self.rate_limit,
            "rate_period": self.rate_period,
        }

    # -- the application -----------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/customers", self._list)
        app.router.add_get("/v1/customers/{id}", self._single)
        app.router.add_route("*", "/v1/{tail:.*}", self._unknown)
        app.router.add_routes(admin_routes(self))
        return app

    async def _list(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, self._list_answer)

    async def _single(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, self._single_answer)

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, lambda _: _Answer(404, status_body(404)))

    def _list_answer(self, request: web.Request) -> _Answer:
        parsed = parse_list_query(request.query)
        if not isinstance(parsed, ListQuery):
            return _Answer(400, validation_body(parsed))
        self._last_order = (parsed.sort, parsed.descending)
        return _Answer(200, self._pages.get(parsed))

    def _single_answer(self, request: web.Request) -> _Answer:
        text = request.match_info["id"]
        body = None
        if text.isascii() and text.isdigit():
            body = self.dataset.customer_json(int(text))
        if body is None:
            return _Answer(404, status_body(404))
        return _Answer(200, body)

    async def _serve(
        self, request: web.Request, compute: Callable[[web.Request], _Answer]
    ) -> web.StreamResponse:
        inbound = self._dice.arrival_delay(self.faults)
        if inbound > 0:
            await self._sleep(inbound)
        arrival = time.monotonic()
        self._requests += 1
        number = self._requests
        accepted, wait = self.policy.admit(arrival)
        fault = self._dice.pick(self.faults, number, accepted=accepted)
        answer = self._answer(request, compute, fault, accepted=accepted, wait=wait)
        self.log.append(
            LogEntry(
                arrival,
                request.method,
                request.path,
                request.query_string,
                answer.status,
                accepted,
                fault,
            )
        )
        for change in self.drift:
            if change.after_request == number:
                self._apply(change)
        delay = self._dice.delay(self.faults)
        if fault == "hang":
            delay += self.faults.hang
        if delay > 0:
            await self._sleep(delay)
        return await self._respond(request, answer, fault)

    def _answer(
        self,
        request: web.Request,
        compute: Callable[[web.Request], _Answer],
        fault: str | None,
        *,
        accepted: bool,
        wait: float | None,
    ) -> _Answer:
        if fault is not None and fault.isdigit():
            status = int(fault)
            return _Answer(status, status_body(status), self._retry_after(status, None))
        if fault == "hang":
            return _Answer(504, status_body(504))
        if not accepted:
            return _Answer(429, status_body(429), self._retry_after(429, wait))
        if not self._authorized(request.headers.get("Authorization")):
            return _Answer(401, status_body(401))
        answer = compute(request)
        if fault == "malformed":
            return _Answer(200, MALFORMED_BODIES[self._requests % len(MALFORMED_BODIES)])
        return answer

    def _retry_after(self, status: int, wait: float | None) -> int | None:
        if status != _TOO_MANY or not self.retry_after:
            return None
        return retry_after_seconds(wait)

    def _authorized(self, header: str | None) -> bool:
        if header is None:
            return False
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and token.strip() == self.api_key

    async def _sleep(self, delay: float) -> None:
        task = asyncio.current_task()
        if task is None:
            await asyncio.sleep(delay)
            return
        self._sleeping.add(task)
        try:
            await asyncio.sleep(delay)
        finally:
            self._sleeping.discard(task)

    async def _respond(
        self, request: web.Request, answer: _Answer, fault: str | None
    ) -> web.StreamResponse:
        headers = {} if answer.retry_after is None else {"Retry-After": str(answer.retry_after)}
        if fault == "truncate":
            return web.Response(
                status=answer.status,
                body=truncated(answer.body),
                content_type=_JSON,
                headers=headers,
            )
        if fault == "drop":
            return await self._drop(request, answer, headers)
        return web.Response(
            status=answer.status, body=answer.body, content_type=_JSON, headers=headers
        )

    async def _drop(
        self, request: web.Request, answer: _Answer, headers: dict[str, str]
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
