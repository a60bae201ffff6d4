"""One HTTP/1.1 POST over asyncio streams: how the emulator's webhooks leave.

The emulator is a server; its deliveries need only "send these bytes, read the status",
so they use a plain ``asyncio`` connection per attempt (``Connection: close``) rather
than an HTTP client library: the package's one client boundary stays
``_shell/transport.py``, and nothing here can pool, follow a redirect or keep a
connection open after an attempt, whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from helpcrunch_async.testing._webhook_plan import Target

# A receiver's answer is read up to this many bytes (status line, headers, some body).
MAX_ANSWER = 64 * 1024
_HEAD_LIMIT = 16 * 1024


class AnswerError(Exception):
    """The receiver answered something that is not an HTTP/1.x status line."""


async def post(
    target: Target, body: bytes, headers: Mapping[str, str], *, loopback: bool = True
) -> int:
    """POST ``body`` to ``target``; return the answer's status code.

    Raises ``OSError`` for a refused or broken connection, or (``loopback``) one
    that did not reach a loopback address (``localhost`` resolved elsewhere), before
    a byte is sent; ``AnswerError`` for an answer that is not HTTP. The caller bounds
    it in time (``asyncio.timeout``). The connection is closed before this returns
    or raises, cancelled or not.
    """
    reader, writer = await asyncio.open_connection(
        target.host,
        target.port,
        ssl=ssl.create_default_context() if target.tls else None,
        limit=_HEAD_LIMIT,
    )
    try:
        peer = writer.get_extra_info("peername")
        if loopback and not (peer and ipaddress.ip_address(peer[0]).is_loopback):
            raise ConnectionRefusedError(f"{target.host} did not resolve to a loopback address")
        writer.write(_request(target, body, headers))
        await writer.drain()
        try:
            status = _status(await reader.readline())
        except ValueError:  # the line overran the stream's limit
            raise AnswerError("the receiver's status line is too long") from None
        # Read the rest of the answer (bounded) so that the receiver's write completes.
        left = MAX_ANSWER
        with contextlib.suppress(ConnectionError):
            while left > 0 and (chunk := await reader.read(left)):
                left -= len(chunk)
        return status
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _request(target: Target, body: bytes, headers: Mapping[str, str]) -> bytes:
    lines = [f"POST {target.path} HTTP/1.1", f"Host: {target.authority}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


def _status(line: bytes) -> int:
    version, _, rest = line.partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or not code.isdigit():
        raise AnswerError("the receiver's answer is not HTTP/1.x")
    return int(code)
