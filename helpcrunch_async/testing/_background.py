"""A server on its own event loop in a daemon thread: start, stop, and a ``with`` block.

``ThreadedEmulator`` and ``ThreadedCollector`` are this over the server they run.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["BackgroundServer"]


class BackgroundServer:
    """Run ``_open`` and, on ``stop``, ``_close`` on a loop of the server's own thread.

    ``timeout`` bounds starting and stopping; ``_what`` names the server in errors.
    """

    _what = "server"

    def __init__(self, *, timeout: float) -> None:
        """Keep the timeout; ``start`` runs the server."""
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    async def _open(self) -> None:
        """Start the server on the thread's loop."""
        raise NotImplementedError

    async def _close(self) -> None:
        """Stop the server on the thread's loop."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the thread and wait until the server listens (or failed to)."""
        if self._thread is not None:
            raise RuntimeError("already started")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(ready),), name=self._what, daemon=True
        )
        self._thread.start()
        if not ready.wait(self.timeout):
            raise TimeoutError(f"the {self._what} did not start within {self.timeout} s")
        if self._error is not None:
            self._thread.join(self.timeout)
            raise self._error

    async def _serve(self, ready: threading.Event) -> None:
        try:
            await self._open()
        except BaseException as error:  # noqa: BLE001 -- handed to the starting thread
            self._error = error
            ready.set()
            return
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        ready.set()
        try:
            await self._stopping.wait()
        finally:
            await self._close()

    def stop(self) -> None:
        """Stop the server and join the thread (idempotent)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._loop is not None and self._stopping is not None and thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
        thread.join(self.timeout)
        self._loop = None
        if thread.is_alive():
            raise TimeoutError(f"the {self._what} did not stop within {self.timeout} s")

    def __enter__(self) -> Self:
        """Start the server."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()
