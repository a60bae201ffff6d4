"""Every write endpoint, described once, and the one way a resource sends a write.

An `Endpoint` is the method, the path (a template: ``{id}``, ``{action}``) and
the decoder of the answer; the body is built by the resource from checked
arguments (`_core.write_params`). `Sender.send` encodes it, asks `_core.writes`
whether the endpoint creates (then a lost answer is read back through the
resource's finder, `_shell.writes.create`) or repeats safely, and sends it
through the client's one caller, so every write draws on the one cap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from helpcrunch_async._core.writes import Effect, effect_of
from helpcrunch_async._models.chats import decode_chat
from helpcrunch_async._models.customers import decode_customer
from helpcrunch_async._models.writes import (
    decode_applications,
    decode_batch,
    decode_event,
    decode_message,
    decode_nothing,
    decode_organization,
)
from helpcrunch_async._shell.caller import Unresolved
from helpcrunch_async._shell.writes import create

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from helpcrunch_async._shell.caller import Caller

__all__ = ["Endpoint", "Sender"]

T = TypeVar("T")
_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[T]):
    """One endpoint: ``method``, ``path`` (a template), the decoder of its answer.

    ``deletes`` marks the DELETE of a record, whose 404 after a lost answer
    means done (`_core.writes` rule 2).
    """

    method: str
    path: str
    decode: Callable[[bytes], T]
    deletes: bool = False


CUSTOMER_CREATE = Endpoint("POST", "/customers", decode_customer)
CUSTOMER_PATCH = Endpoint("PATCH", "/customers/{id}", decode_customer)
CUSTOMER_PUT = Endpoint("PUT", "/customers/{id}", decode_customer)
CUSTOMER_BATCH = Endpoint("PUT", "/customers/batch", decode_batch)
CUSTOMER_DELETE = Endpoint("DELETE", "/customers/{id}", decode_nothing, deletes=True)
CUSTOMER_TAG = Endpoint("PUT", "/customers/{id}/tags", decode_customer)
CUSTOMER_UNTAG = Endpoint("DELETE", "/customers/{id}/tags", decode_customer)
EVENT_CREATE = Endpoint("POST", "/events", decode_event)
CHAT_CREATE = Endpoint("POST", "/chats", decode_chat)
CHAT_UPDATE = Endpoint("PUT", "/chats/{action}", decode_chat)
MESSAGE_CREATE = Endpoint("POST", "/messages", decode_message)
ORGANIZATION = Endpoint("GET", "/organization", decode_organization)
APPLICATIONS = Endpoint("GET", "/applications", decode_applications)


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
        url = endpoint.path.format(**path)
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
