"""``ThreadedEmulator``: an ``Emulator`` on its own event loop in a background thread.

Synchronous code (and async tests on another loop) can then use the emulator without
sharing a loop with it. Reads of simple attributes (``base_url``, ``log``) are direct;
everything that touches the dataset or the policy runs on the emulator's loop through
``run_coroutine_threadsafe``, so it never races a request being served.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from helpcrunch_async.testing._background import BackgroundServer
from helpcrunch_async.testing._server import Emulator

if TYPE_CHECKING:
    from collections.abc import Callable

    from helpcrunch_async.testing._faults import Faults
    from helpcrunch_async.testing._log import LogEntry
    from helpcrunch_async.testing._webhooks import DeliveryRecord

T = TypeVar("T")


class ThreadedEmulator(BackgroundServer):
    """Start an ``Emulator(**options)`` in a daemon thread; stop it on ``stop`` or exit."""

    _what = "emulator"

    def __init__(self, *, timeout: float = 10.0, **options: Any) -> None:
        """Keep the options; ``timeout`` bounds starting, stopping and each remote call."""
        super().__init__(timeout=timeout)
        self._options = options
        self._emulator: Emulator | None = None

    async def _open(self) -> None:
        emulator = Emulator(**self._options)
        await emulator.start()
        self._emulator = emulator

    async def _close(self) -> None:
        assert self._emulator is not None  # noqa: S101 -- _open set it before any close
        await self._emulator.stop()

    # -- the emulator, seen from other threads ------------------------------------------

    @property
    def emulator(self) -> Emulator:
        """The ``Emulator`` (touch its data only through this class's methods).

        It stays readable after ``stop`` (``log``, ``base_url``); methods that touch the
        data need it running.
        """
        if self._emulator is None:
            raise RuntimeError("the emulator is not running")
        return self._emulator

    @property
    def base_url(self) -> str:
        """The API's base, e.g. ``http://127.0.0.1:8080/v1``."""
        return self.emulator.base_url

    @property
    def url(self) -> str:
        """The server's root (admin routes live under ``/_emulator``)."""
        return self.emulator.url

    @property
    def port(self) -> int:
        """The port listened on."""
        return self.emulator.port

    @property
    def api_key(self) -> str:
        """The key the server accepts."""
        return self.emulator.api_key

    @property
    def faults(self) -> Faults:
        """The live fault settings; assigning a field takes effect at the next request."""
        return self.emulator.faults

    @property
    def log(self) -> list[LogEntry]:
        """A snapshot of the request log."""
        return list(self.emulator.log)

    @property
    def total(self) -> int:
        """The current number of customers."""
        return self._call(lambda: self.emulator.total)

    def configure(self, **changes: Any) -> None:
        """Change settings on the emulator's loop (see ``Emulator.configure``)."""
        self._call(lambda: self.emulator.configure(**changes))

    def insert(self, count: int, position: str = "start") -> list[int]:
        """Insert customers (see ``Emulator.insert``)."""
        return self._call(lambda: self.emulator.insert(count, position))

    def delete(self, count: int = 0, position: str = "start", *, ids: Any = ()) -> list[int]:
        """Delete customers (see ``Emulator.delete``)."""
        return self._call(lambda: self.emulator.delete(count, position, ids=list(ids)))

    def expected_ids(self, sort: str | None = None, order: str = "asc") -> list[int]:
        """Return every current id in server order (see ``Emulator.expected_ids``)."""
        return self._call(lambda: self.emulator.expected_ids(sort, order))

    def customer_json(self, customer_id: int) -> bytes | None:
        """Return the bytes the server sends for a customer, or None."""
        return self._call(lambda: self.emulator.customer_json(customer_id))

    def customer(self, customer_id: int) -> dict[str, Any] | None:
        """Return the customer as a dict, or None."""
        return self._call(lambda: self.emulator.customer(customer_id))

    def visit(self, ids: Any = (), count: int = 0, *, at: int | None = None) -> list[int]:
        """Let customers visit (see ``Emulator.visit``)."""
        return self._call(lambda: self.emulator.visit(list(ids), count, at=at))

    def add_chats(self, count: int) -> list[int]:
        """Open chats (see ``Emulator.add_chats``)."""
        return self._call(lambda: self.emulator.add_chats(count))

    def add_messages(self, chat_id: int, count: int = 1, sender: str | None = None) -> list[int]:
        """Append messages to a chat (see ``Emulator.add_messages``)."""
        return self._call(lambda: self.emulator.add_messages(chat_id, count, sender))

    def close_chat(self, chat_id: int, by: str = "agent") -> None:
        """Close a chat (see ``Emulator.close_chat``)."""
        self._call(lambda: self.emulator.close_chat(chat_id, by))

    def reassign_chat(self, chat_id: int, agent_id: int | None) -> None:
        """Reassign a chat (see ``Emulator.reassign_chat``)."""
        self._call(lambda: self.emulator.reassign_chat(chat_id, agent_id))

    def delete_chats(self, ids: Any) -> list[int]:
        """Delete chats (see ``Emulator.delete_chats``)."""
        return self._call(lambda: self.emulator.delete_chats(list(ids)))

    def expected_chat_ids(self, sort: str | None = None, order: str = "asc") -> list[int]:
        """Return every chat id in server order (see ``Emulator.expected_chat_ids``)."""
        return self._call(lambda: self.emulator.expected_chat_ids(sort, order))

    def chat(self, chat_id: int) -> dict[str, Any] | None:
        """Return the chat as a dict, or None."""
        return self._call(lambda: self.emulator.chat(chat_id))

    def truth_customers(self) -> list[dict[str, Any]]:
        """Return every customer as the API serialises it (id order)."""
        return self._call(self.emulator.truth_customers)

    def truth_chats(self) -> list[dict[str, Any]]:
        """Return every chat as the API serialises it (id order)."""
        return self._call(self.emulator.truth_chats)

    def truth_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """Return a chat's messages as the API serialises them (newest first)."""
        return self._call(lambda: self.emulator.truth_messages(chat_id))

    def truth_agents(self) -> list[dict[str, Any]]:
        """Return every agent as the API serialises it."""
        return self._call(self.emulator.truth_agents)

    def truth_departments(self) -> list[dict[str, Any]]:
        """Return every department as the API serialises it."""
        return self._call(self.emulator.truth_departments)

    def edit_customer(self, customer_id: int, event: str | None, **fields: Any) -> str | None:
        """Change a customer's fields in place, no timestamp moving; fire ``event`` about it.

        The change no search can see (an agent's edit): ``fields`` are REST keys
        (``email``, ``name``, ``tags``, ``unsubscribed``...). Returns the event's id
        (None: no event, or no subscription takes it).
        """

        def edit() -> str | None:
            emulator = self.emulator
            doc = emulator.customer(customer_id)
            if doc is None:
                raise KeyError(f"no customer with id {customer_id}")
            doc.update(fields)
            emulator.dataset.store(doc)
            return None if event is None else emulator.emit(event, customer=customer_id)

        return self._call(edit)

    def trigger(self, event: str, **records: Any) -> str | None:
        """Send a webhook event now (see ``Emulator.trigger``); return its id."""
        return self._call(lambda: self.emulator.trigger(event, **records))

    def emit(self, event: str, **records: Any) -> str | None:
        """Emit a webhook event for a change (see ``Emulator.emit``); return its id."""
        return self._call(lambda: self.emulator.emit(event, **records))

    def webhooks_settled(self, timeout: float | None = None) -> None:
        """Block until every webhook is delivered or given up (TimeoutError past ``timeout``)."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the emulator is not running")
        wait = asyncio.run_coroutine_threadsafe(self.emulator.webhooks_settled(), loop)
        try:
            wait.result(self.timeout if timeout is None else timeout)
        except TimeoutError:
            wait.cancel()
            raise

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        """A snapshot of every webhook delivery attempt."""
        return list(self.emulator.deliveries)

    def reset_log(self) -> None:
        """Forget the logged requests."""
        self._call(self.emulator.reset_log)

    def stats(self) -> dict[str, Any]:
        """Return the emulator's counters."""
        return self._call(self.emulator.stats)

    def _call(self, function: Callable[[], T]) -> T:
        loop = self._loop
        if loop is None or self._emulator is None:
            raise RuntimeError("the emulator is not running")
        if threading.current_thread() is self._thread:
            return function()

        async def job() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(job(), loop).result(self.timeout)
