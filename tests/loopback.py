"""An observer of the sockets a process opens: every target must be on loopback.

`install` adds an audit hook (``sys.addaudithook``: it cannot be removed, and it
sees every ``socket.connect`` and name lookup, ours and every library's, in
every thread). A target that is not loopback is recorded and refused with
`NonLoopbackError`, so nothing leaves the machine, and the suite fails at its
end (see ``conftest.py``). Unix sockets are local by nature and pass. A name
under ``.invalid`` (RFC 6761: never resolves) is refused without being
recorded: a test of a failed lookup gets its failure, and nothing leaves.
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

__all__ = ["NonLoopbackError", "install", "outside_target"]

_EVENTS = frozenset(
    {"socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"}
)


class NonLoopbackError(OSError):
    """A connection or name lookup beyond loopback, refused by the observer."""


def _is_loopback(host: object) -> bool:
    if host is None:
        return True  # a passive lookup: the local machine's own addresses
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%", 1)[0].lower()
    if name in {"localhost", "localhost.localdomain", "ip6-localhost", ""}:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def outside_target(event: str, args: tuple[Any, ...]) -> str | None:
    """Return the target of a socket audit event if it is beyond loopback, else None."""
    if event not in _EVENTS:
        return None
    if event == "socket.connect":
        address = args[1]
        if not isinstance(address, tuple):
            return None  # AF_UNIX (a path) and the like: local
        host = address[0]
    else:
        host = args[0]
    if _is_loopback(host):
        return None
    return f"{event} {host!r}"


def _never_resolves(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return isinstance(host, str) and host.lower().rstrip(".").endswith(".invalid")


def install(seen: list[str]) -> None:
    """Record every non-loopback target into ``seen`` and refuse it, from now on."""

    def hook(event: str, args: tuple[Any, ...]) -> None:
        target = outside_target(event, args)
        if target is None:
            return
        if not (event != "socket.connect" and _never_resolves(args[0])):
            seen.append(target)
        raise NonLoopbackError(f"the test suite opens no connection beyond loopback: {target}")

    sys.addaudithook(hook)
