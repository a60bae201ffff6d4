"""Stopping an export on SIGINT or SIGTERM: the first signal stops it, later ones only wait.

The first signal cancels the export's task (at once if it came before the task
began). Pressing Ctrl-C again while the export cleans up (cancels its requests,
commits what it received, closes its connections, writes the summary) must not
cut that short, or the summary is lost and sockets stay open, so a later signal
is only acknowledged. Once the command has ended, `ignore_late_signals` makes a
signal that arrives while the interpreter exits change nothing either.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import TYPE_CHECKING, Self, TextIO

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["STOP_SIGNALS", "Stopper", "ignore_late_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopper:
    """Cancels the task it watches on the first SIGINT or SIGTERM; notes which one came."""

    def __init__(self, stream: TextIO) -> None:
        self.signal_name: str | None = None
        self._stream = stream
        self._task: asyncio.Task[None] | None = None
        self._ended = False

    def watch(self, task: asyncio.Task[None]) -> None:
        """Cancel ``task`` on the first signal (now, if it already came)."""
        self._task = task
        if self.signal_name is not None:
            task.cancel()

    def __call__(self, signum: signal.Signals) -> None:
        """Handle one signal: stop on the first, acknowledge the others."""
        if self._ended:
            return
        if self.signal_name is not None:
            self._stream.write(f"{signum.name}: already stopping; the summary follows\n")
            self._stream.flush()
            return
        self.signal_name = signum.name
        if self._task is not None:
            self._task.cancel()

    @contextlib.contextmanager
    def installed(self, *, release: bool = False) -> Iterator[Self]:
        """Handle the stop signals in the running loop from now on (main thread only).

        After the block, a signal changes nothing. With ``release`` (the command
        line, whose process ends next) the signals are ignored for good; else the
        handlers stay until the loop closes and asyncio removes them. Either way
        a Ctrl-C while ``asyncio.run`` tears down cannot raise ``KeyboardInterrupt``
        in the middle of it and leave the loop unclosed.
        """
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, self, signum)
        try:
            yield self
        finally:
            self._ended = True
            if release:
                for signum in STOP_SIGNALS:
                    # The loop's handler goes first, so that closing the loop
                    # leaves the signal alone; then the signal is ignored.
                    loop.remove_signal_handler(signum)
                    signal.signal(signum, signal.SIG_IGN)


def ignore_late_signals() -> None:
    """Ignore the stop signals from now on: the command has ended and said how."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
