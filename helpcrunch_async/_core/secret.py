"""`Secret`: the API key in an object that never shows it, and the one scrub for wire text.

This module is pure: it imports neither aiohttp nor asyncio and does no I/O.
A `Secret` has a redacted ``repr`` and ``str`` and refuses to pickle, so a
frame that holds one shows nothing of the key to an error reporter that
records locals (Sentry does, and so does
``traceback.TracebackException(capture_locals=True)``). The ``Authorization``
header is built from it by the transport at the moment a request leaves.
"""

from __future__ import annotations

from typing import AnyStr, NoReturn

__all__ = ["REDACTED", "Secret"]

# What stands for the key wherever text from the wire held it.
REDACTED = "***"


class Secret:
    """The API key; ``repr`` and ``str`` are redacted, and it does not pickle."""

    __slots__ = ("_bytes", "_text")

    def __init__(self, value: str) -> None:
        self._text = value
        self._bytes = value.encode("utf-8", "surrogateescape")

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret (the API key) is never pickled")  # the boundary's own type error

    def bearer(self) -> str:
        """Return the ``Authorization`` header's value; call it only where the header is set."""
        return f"Bearer {self._text}"

    def scrub(self, data: AnyStr) -> AnyStr:
        """Return ``data`` (text or bytes from the wire) with every copy of the key redacted.

        Replacing the key also redacts its ``Bearer <key>`` form, which a
        server or proxy that echoes the ``Authorization`` header sends back.
        """
        if isinstance(data, bytes):
            return data.replace(self._bytes, REDACTED.encode()) if self._bytes else data
        return data.replace(self._text, REDACTED) if self._text else data
