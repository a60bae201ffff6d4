"""A create whose answer was lost: read back, then return, send again, or raise.

Shell code over `Caller.write` and the pure rules of `_core.writes` (rules 4 and
5): the caller never sends a create twice on its own; when it gives up an
attempt as `Unresolved`, this loop asks the resource's ``find`` for the records
that may be the one sent, and acts on `resolve`'s answer.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, TypeVar

from helpcrunch_async._core.writes import Effect, Resolution, resolve
from helpcrunch_async._errors import AmbiguousWriteError, HelpCrunchError
from helpcrunch_async._shell.caller import Unresolved

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from helpcrunch_async._shell.caller import Caller

__all__ = ["create"]

T = TypeVar("T")
logger = logging.getLogger("helpcrunch_async")


async def create(
    caller: Caller,
    path: str,
    body: bytes,
    decode: Callable[[bytes], T],
    find: Callable[[float, float], Awaitable[list[T]]] | None,
    *,
    clock: Callable[[], float] = time.time,
) -> T:
    """Send ``POST path`` once, resolving a lost answer by reading (see the module docstring).

    ``find(sent, now)`` returns the records that may be the one a create sent
    at ``sent`` made (unix seconds, ours). ``find`` is None when nothing can be
    read back (an event; a customer with neither ``user_id`` nor email): a lost
    answer is then `AmbiguousWriteError`.
    """
    what = f"POST {path}"
    sent = clock()
    retries = 0
    while True:
        out = await caller.write("POST", path, decode, body, effect=Effect.CREATE, retries=retries)
        if not isinstance(out, Unresolved):
            return out
        found: list[T] = []
        if find is not None:
            try:
                found = await find(sent, clock())
            except HelpCrunchError as exc:
                raise _ambiguous(what, out, f"reading it back failed too ({exc})") from None
        if len(found) > 1:
            raise _ambiguous(what, out, f"{len(found)} records may each be the one it made")
        decision = resolve(
            readable=find is not None,
            found=bool(found),
            applied=out.applied,
            retries=out.retries,
            policy=caller.policy,
        )
        if decision is Resolution.FOUND:
            logger.warning(
                "%s: the answer was lost (%s); read back the record it made", what, out.error
            )
            return found[0]
        if decision is Resolution.GIVE_UP:
            raise out.error
        if decision is Resolution.AMBIGUOUS:
            reason = "there is nothing to read it back by" if find is None else "it cannot be found"
            raise _ambiguous(what, out, reason)
        retries = out.retries + 1
        logger.warning(
            "%s: the answer was lost (%s) and nothing was made; sending it again", what, out.error
        )


def _ambiguous(what: str, out: Unresolved, reason: str) -> AmbiguousWriteError:
    if out.applied:
        head = f"{what}: the server said it wrote it, but its answer was damaged and {reason}"
    else:
        head = (
            f"{what}: its outcome is unknown ({out.error}): it may or may not have been "
            f"applied, and {reason}; check before sending it again"
        )
    return AmbiguousWriteError(head, request=what, applied=True if out.applied else None)
