"""The request log: one frozen entry per ``/v1`` request, in arrival order."""

from __future__ import annotations

import msgspec


class LogEntry(msgspec.Struct, frozen=True):
    """One ``/v1`` request as the server saw it.

    ``time`` is the server's ``monotonic`` clock on arrival (``time.monotonic()``
    unless the emulator was given another), after the way in and before any
    latency, when the rate policy counts the request (that clock is
    system-wide on Linux, so other processes may compare it with theirs). ``query`` is
    the raw query string. ``status`` is the status sent or being sent (a ``hang``
    answers 504 once its time is up, if the client is still there). ``accepted`` is the
    rate policy's verdict, which a forced fault may override. ``fault`` names the fault
    applied, if any. ``body`` is the request's body as text (the searches' and
    the writes' JSON), None when it had none. Every ``/v1`` endpoint is logged here: one log, as
    one rate budget, for the whole API.
    """

    time: float
    method: str
    path: str
    query: str
    status: int
    accepted: bool
    fault: str | None = None
    body: str | None = None
