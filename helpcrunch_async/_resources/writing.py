"""The one way a resource sends a write (and the few plain reads beside the writes).

The endpoint (method, path template, decoder) is described in `endpoints`; the
body is built by the resource from checked arguments (`_core.write_params`).
`Sender.send` encodes it, asks `_core.writes` whether the endpoint creates
(then a lost answer is read back through the resource's finder,
`_shell.writes.create`) or repeats safely, and sends it through the client's one
caller, so every write draws on the one cap.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from helpcrunch_async._core.writes import Effect, effect_of
from helpcrunch_async._shell.caller import Unresolved
from helpcrunch_async._shell.writes import create

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from helpcrunch_async._resources.endpoints import Endpoint
    from helpcrunch_async._shell.caller import Caller

__all__ = ["Sender"]

T = TypeVar("T")
_ENCODER = msgspec.json.Encoder()


class Sender:
    """Send writes (and the few plain reads beside them) through one caller."""

    def __init__(self, caller: Caller, *, clock: Callable[[], float] = time.time) -> None:
        """Send through ``caller``; ``clock`` (unix seconds) times creates for read-backs."""
        self._caller = caller
        self._clock = clock

    async def send(
        self,
        endpoint: Endpoint[T],
        body: Any = None,
        *,
        find: Callable[[float, float], Awaitable[list[T]]] | None = None,
        **path: object,
    ) -> T:
        """Send ``body`` (JSON) to ``endpoint`` with ``path``'s parts; return the decoded answer.

        A create whose answer is lost is resolved with ``find`` (`_shell.writes.create`).
        """
        url = endpoint.url(**path)
        raw = None if body is None else _ENCODER.encode(body)
        effect = effect_of(endpoint.method, url)
        if effect is Effect.CREATE:
            assert raw is not None  # noqa: S101 -- every create has a body
            return await create(self._caller, url, raw, endpoint.decode, find, clock=self._clock)
        if endpoint.method == "GET":
            return await self._caller.call("GET", url, {}, endpoint.decode)
        out = await self._caller.write(
            endpoint.method, url, endpoint.decode, raw, effect=effect, deletes=endpoint.deletes
        )
        assert not isinstance(out, Unresolved)  # noqa: S101 -- only creates are unresolved
        return out
