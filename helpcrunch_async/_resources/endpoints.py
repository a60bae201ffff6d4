"""Every endpoint of the API this client calls, each described once, reads and writes alike.

An `Endpoint` says what a resource method needs to know and nothing else: the
method, the path (a template: ``{id}``, ``{action}``), the decoder of the
answer, and for a listing the noun of its items, the sorts it takes, the search
its filters are checked against, and the decoder a scan reads its windows
with where a page may come without its count. `Page` is what such a decoder
returns, as a scan reads it. A resource method is a line over one of these:
`listing.Resource` turns a listing or a search into a page or a scan, and
`writing.Sender` sends a write by the rules of `_core.writes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from helpcrunch_async._core.params import CHAT_SORTS, SORTS
from helpcrunch_async._models.agents import decode_agents_page, decode_departments_page
from helpcrunch_async._models.chats import decode_chat, decode_chats_page, decode_chats_window
from helpcrunch_async._models.customers import (
    decode_customer,
    decode_page,
    decode_search_page,
    decode_search_window,
)
from helpcrunch_async._models.messages import decode_messages_page
from helpcrunch_async._models.writes import (
    decode_applications,
    decode_batch,
    decode_event,
    decode_message,
    decode_nothing,
    decode_organization,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from helpcrunch_async._core.filters import SearchResource

__all__ = ["Endpoint", "Page"]

# Covariant: an endpoint decoding a ChatsPage is an endpoint decoding a Page[Chat].
T_co = TypeVar("T_co", covariant=True)


class Page(Protocol[T_co]):
    """What a scan reads from any page type: its ``data`` and its ``total`` (None: unsent)."""

    @property
    def total(self) -> int | None:
        """The count the server sent with the page, or None."""
        ...

    @property
    def data(self) -> Sequence[T_co]:
        """The page's items, in the server's order."""
        ...


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[T_co]):
    """One endpoint: ``method``, ``path`` (a template), the decoder of its answer, and its kind.

    For a listing: ``noun`` names its items in log lines and errors;
    ``sorts`` are the sort fields it takes (none: it is sent neither ``sort``
    nor ``order``); ``search`` names the resource whose fields its filters are
    checked against (a search endpoint: the window goes as a JSON body);
    ``window`` decodes a scan's window where the page may come without its
    count (then the scan reads on until a short page; None: ``decode``).
    ``deletes`` marks the DELETE of a record, whose 404 after a lost answer
    means done (`_core.writes` rule 2).
    """

    method: str
    path: str
    decode: Callable[[bytes], T_co]
    noun: str = "items"
    sorts: tuple[str, ...] = ()
    search: SearchResource | None = None
    window: Callable[[bytes], Page[Any]] | None = None
    deletes: bool = False

    def url(self, **parts: object) -> str:
        """Return the path with ``parts`` filled in (``id=5``: ``/chats/5/messages``)."""
        return self.path.format(**parts)


# Reads.
CUSTOMERS = Endpoint("GET", "/customers", decode_page, noun="customers", sorts=SORTS)
CUSTOMER = Endpoint("GET", "/customers/{id}", decode_customer)
CUSTOMER_SEARCH = Endpoint(
    "POST",
    "/customers/search",
    decode_search_page,
    noun="customers",
    sorts=SORTS,
    search="customers",
    window=decode_search_window,
)
CHATS = Endpoint("GET", "/chats", decode_chats_page, noun="chats", sorts=CHAT_SORTS)
CHAT = Endpoint("GET", "/chats/{id}", decode_chat)
CHAT_SEARCH = Endpoint(
    "POST",
    "/chats/search",
    decode_chats_page,
    noun="chats",
    sorts=CHAT_SORTS,
    search="chats",
    window=decode_chats_window,
)
MESSAGES = Endpoint("GET", "/chats/{id}/messages", decode_messages_page, noun="messages")
AGENTS = Endpoint("GET", "/agents", decode_agents_page, noun="agents")
DEPARTMENTS = Endpoint("GET", "/departments", decode_departments_page, noun="departments")
ORGANIZATION = Endpoint("GET", "/organization", decode_organization)
APPLICATIONS = Endpoint("GET", "/applications", decode_applications)

# Writes (the body is built by the resource from checked arguments: `_core.write_params`).
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
