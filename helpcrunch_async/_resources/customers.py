"""The ``customers`` resource: read, search and scan customers, and write them.

Writes (see `_core.writes` for when one is sent again or read back): ``create``,
``update`` (PATCH: merges), ``replace`` (PUT: what is not sent becomes null),
``update_many`` (``PUT /customers/batch``), ``upsert``, ``tag``, ``untag``,
``delete`` and ``add_event``. Where the docs leave a write's meaning open, each
method sends what leaves the same account under every reading: an update with
``custom_data`` sends the whole merged custom data (read first), and a batch item
sends the whole record, so neither a server that merges nor one that replaces
loses a field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, Unpack

from helpcrunch_async._core.filters import Filter
from helpcrunch_async._core.params import KEYS_PER_SEARCH, check_positive_int
from helpcrunch_async._core.write_params import (
    CustomerFields,
    UpdateFields,
    customer_body,
    event_body,
    merge_custom_data,
    tag_body,
)
from helpcrunch_async._errors import BadRequestError, InvalidParameterError
from helpcrunch_async._models.writes import UpdateResult, batch_results, record_body
from helpcrunch_async._resources.endpoints import (
    CUSTOMER,
    CUSTOMER_BATCH,
    CUSTOMER_CREATE,
    CUSTOMER_DELETE,
    CUSTOMER_PATCH,
    CUSTOMER_PUT,
    CUSTOMER_SEARCH,
    CUSTOMER_TAG,
    CUSTOMER_UNTAG,
    CUSTOMERS,
    EVENT_CREATE,
)
from helpcrunch_async._resources.listing import Resource
from helpcrunch_async._resources.writing import Sender
from helpcrunch_async._shell.scan import Scan
from helpcrunch_async._sync import reads as changes

if TYPE_CHECKING:
    import builtins
    from collections.abc import Awaitable, Callable, Sequence

    from helpcrunch_async._core.filters import Comparison
    from helpcrunch_async._core.paging import PageResult
    from helpcrunch_async._core.params import Order, Sort
    from helpcrunch_async._models.customers import Customer, CustomersPage
    from helpcrunch_async._models.writes import Event
    from helpcrunch_async._shell.caller import Caller
    from helpcrunch_async._shell.scan import FetchRange
    from helpcrunch_async._shell.stats import ScanStats
    from helpcrunch_async._shell.stream import StreamScan

# Checked update_many items: (id, the update's body).
_Chunk = list[tuple[int, dict[str, Any]]]
BATCH_SIZE = 10
"""The most items one ``PUT /customers/batch`` takes (the documented maximum)."""
_DUPLICATE_USER_ID = "invalid_userId_value"
# The keys a created customer is read back by, in the order tried (rule 5).
_KEYS = (("user_id", "customers.userId"), ("email", "customers.email"))
# lookup(by=...): the search field and the attribute compared.
_LOOKUPS = {
    "id": ("customers.id", "id"),
    "user_id": ("customers.userId", "user_id"),
    "email": ("customers.email", "email"),
}
LookupKey = Literal["id", "user_id", "email"]

__all__ = ["CustomerScan", "Customers"]

if TYPE_CHECKING:
    CustomerScan: TypeAlias = Scan[Customer]
    """Deprecated: the old name of ``Scan[Customer]``, what ``customers.iter_all`` returns."""
else:
    # Bare at run time, so that isinstance(scan, CustomerScan) still holds.
    CustomerScan = Scan


class Customers(Resource):
    """``client.customers``: ``/customers``, ``/customers/{id}``, search, and the writes."""

    def __init__(self, caller: Caller, *, concurrency: int) -> None:
        """Read and write through ``caller``; scans and batches run ``concurrency`` at once."""
        super().__init__(caller, concurrency=concurrency)
        self._writes = Sender(caller)

    async def list(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        sort: Sort | None = None,
        order: Order = "asc",
    ) -> CustomersPage:
        """Return one page: ``total`` and up to ``limit`` (1..100) customers from ``offset``."""
        return await self.list_page(CUSTOMERS, offset=offset, limit=limit, sort=sort, order=order)

    async def get(self, customer_id: int) -> Customer:
        """Return one customer by id; `NotFoundError` if there is none."""
        return await self.read(CUSTOMER, id=check_positive_int("customer_id", customer_id))

    def iter_all(
        self,
        *,
        sort: Sort | None = None,
        order: Order = "asc",
        page_size: int = 100,
        start: int = 0,
        concurrency: int | None = None,
        seen: Iterable[int] = (),
    ) -> Scan[Customer]:
        """Return a scan of every customer, in the server's order, each at most once.

        The first page learns ``total``; the remaining windows are fetched
        concurrently (``concurrency`` at most, the client's by default) and
        reassembled in order. ``start`` skips the first customers (resuming an
        export). A scan from offset 0 that knows it missed customers (served
        twice in place of others under a total that did not grow, as a sort
        with ties in another order on each request serves them) finds them by
        counting id ranges against the ids it yielded (about d·log2(N/100)
        requests for d missed among N) and yields them last; it ends in
        `IncompleteScanError` if the count still disagrees. A scan from
        ``start`` does so when ``seen`` holds the ids of the customers before
        it (a resumed export's); a customer whose id is in ``seen`` is never
        yielded. The scan is an
        async iterator and an async context manager; its ``stats`` tell what
        happened. Arguments are checked here, before any request.
        """
        return self.scan_list(
            CUSTOMERS,
            sort=sort,
            order=order,
            page_size=page_size,
            start=start,
            concurrency=concurrency,
            recount=self._by_id_range(None),
            seen=seen,
        )

    def _by_id_range(self, body: Mapping[str, Any] | None) -> FetchRange[Customer]:
        """Return the reader of the customers a search ``body`` finds (all: None) in an id range.

        What a scan that missed customers counts and reads them with (see `Scan`).
        ``body`` is a checked search body joined by ``AND``.
        """
        base: Mapping[str, Any] = body if body is not None else {"filter": [], "order": "asc"}

        async def fetch(lo: int, hi: int, limit: int, stats: ScanStats) -> PageResult[Customer]:
            ids = (Filter("customers.id", ">=", lo), Filter("customers.id", "<", hi))
            window = {
                **base,
                "filter": [*base["filter"], *(f.wire for f in ids)],
                "comparison": "AND",
                "offset": 0,
                "limit": limit,
            }
            return await self.window(CUSTOMER_SEARCH, window, stats)

        return fetch

    async def search(
        self,
        where: Iterable[Filter],
        *,
        comparison: Comparison = "AND",
        sort: Sort | None = None,
        order: Order = "asc",
        offset: int = 0,
        limit: int = 100,
        stats: ScanStats | None = None,
    ) -> CustomersPage:
        """Return one page of the customers matching ``where``, and how many match.

        ``where`` is a non-empty list of ``customers.*`` `Filter` objects, joined
        by ``comparison`` (``AND``: all, ``OR``: any); each is checked against
        customer search before any request. The count is read from ``total``
        or ``meta.total`` (the response is undocumented); a page with neither is
        a `DecodeError`. The request's costs are counted into ``stats`` when given.
        """
        return await self.search_page(
            CUSTOMER_SEARCH,
            where,
            comparison=comparison,
            sort=sort,
            order=order,
            offset=offset,
            limit=limit,
            stats=stats,
        )

    def iter_search(
        self,
        where: Iterable[Filter],
        *,
        comparison: Comparison = "AND",
        sort: Sort | None = None,
        order: Order = "asc",
        page_size: int = 100,
        start: int = 0,
        concurrency: int | None = None,
        seen: Iterable[int] = (),
    ) -> Scan[Customer]:
        """Return a scan of every customer matching ``where``, like `iter_all` over `search`.

        Filters are checked here, before any request. Should the server send no
        count with its pages, the scan reads on until a page comes back short.
        Under ``AND``, customers the scan missed are found by id range (see
        `iter_all`); under ``OR`` an id range cannot narrow the search, so such a
        scan ends in `IncompleteScanError`.
        """
        return self.scan_search(
            CUSTOMER_SEARCH,
            where,
            comparison=comparison,
            sort=sort,
            order=order,
            page_size=page_size,
            start=start,
            concurrency=concurrency,
            recount=self._by_id_range,
            seen=seen,
        )

    async def count(self, where: Sequence[Filter] | None = None) -> int:
        """Return how many customers match ``where`` (all of them if None), in one request."""
        return await changes.count_customers(self, where)

    def iter_changed(
        self,
        since: int,
        after_id: int | None = None,
        *,
        overlap: int = changes.DEFAULT_OVERLAP,
    ) -> StreamScan[Customer]:
        """Return a scan of every customer seen since ``since - overlap`` or above ``after_id``.

        Each customer once; see `changes.iter_changed_customers` for why a visit
        during the scan cannot make one slip past it. The scan is an async
        iterator and an async context manager; its ``stats`` count the
        requests, pages and customers.
        """
        return changes.iter_changed_customers(self, since, after_id, overlap=overlap)

    async def find_deleted(self, known_ids: Iterable[int]) -> changes.IdList:
        """Return which of ``known_ids`` the server no longer has, sorted, by counting id ranges.

        Costs on the order of d·log(N/100) requests for d deletions among N ids.
        """
        return await changes.find_deleted(self, known_ids)

    # -- writes ------------------------------------------------------------------------

    async def create(self, **fields: Unpack[CustomerFields]) -> Customer:
        """Create a customer; return it as the server answers.

        Tags that do not exist are created. Should the answer be lost, the
        customer is looked up by ``user_id`` (else ``email``) rather than sent
        twice; with neither, a lost answer is `AmbiguousWriteError`. A
        ``user_id`` another customer has is `BadRequestError` (``invalid_userId_value``).
        """
        body = customer_body(fields)
        return await self._writes.send(CUSTOMER_CREATE, body, find=self._finder(body))

    async def update(self, customer_id: int, **fields: Unpack[UpdateFields]) -> Customer:
        """Merge ``fields`` into a customer (PATCH); the fields not passed stay as they are.

        ``custom_data`` is merged property by property: the customer is read
        first and the whole merged custom data sent, so no property is lost
        whether the server merges or replaces it (the docs do not say).
        """
        check_positive_int("customer_id", customer_id)
        body = customer_body(fields, tags=False)
        if "customData" in body:
            current = await self.get(customer_id)
            have = ((item.property, item.value) for item in current.custom_data)
            body["customData"] = merge_custom_data(have, body["customData"])
        return await self._writes.send(CUSTOMER_PATCH, body, id=customer_id)

    async def replace(self, customer_id: int, **fields: Unpack[CustomerFields]) -> Customer:
        """Replace a customer (PUT): every writable field not passed becomes null (or empty)."""
        check_positive_int("customer_id", customer_id)
        return await self._writes.send(CUSTOMER_PUT, customer_body(fields), id=customer_id)

    async def update_many(self, items: Iterable[Mapping[str, Any]]) -> builtins.list[UpdateResult]:
        """Merge many updates (``{"id": ..., <update's fields>}``); one result per item, in order.

        Sent through ``PUT /customers/batch`` in chunks of ten, concurrently under
        the client's cap: per chunk one search reads the current records and one
        batch sends them whole with the updates merged in (see the module
        docstring). Each result says ``updated`` (with the record), ``not_found``
        or ``refused`` (with the server's reasons; a chunk refused whole refuses
        each of its items). Every item is checked before any request. Any other
        failure (a 401, the network, once retries are spent) raises after every
        chunk has finished: the chunks that went through stay applied, and
        calling again is safe (the batch is a PUT).
        """
        checked = [_batch_item(n, item) for n, item in enumerate(_items(items))]
        chunks = [checked[k : k + BATCH_SIZE] for k in range(0, len(checked), BATCH_SIZE)]
        gate = asyncio.Semaphore(self._concurrency)

        async def run(chunk: _Chunk) -> builtins.list[UpdateResult]:
            async with gate:
                return await self._update_chunk(chunk)

        done = await asyncio.gather(*(run(chunk) for chunk in chunks), return_exceptions=True)
        for outcome in done:
            if isinstance(outcome, BaseException):
                # Raised outside any except block: it carries no other error as context.
                raise outcome
        return [result for chunk in done if isinstance(chunk, list) for result in chunk]

    async def _update_chunk(self, chunk: _Chunk) -> builtins.list[UpdateResult]:
        found = await self.lookup("id", [ident for ident, _ in chunk], per_search=BATCH_SIZE)
        current = {ident: matches[0] for ident, matches in found.items() if matches}
        items, sent_ids = [], []
        for ident, update in chunk:
            if ident in current:
                item = {**record_body(current[ident]), **update}
                if "customData" in update:
                    have = ((i.property, i.value) for i in current[ident].custom_data)
                    item["customData"] = merge_custom_data(have, update["customData"])
                items.append(item)
                sent_ids.append(ident)
        try:
            answered = await self._writes.send(CUSTOMER_BATCH, items) if items else []
        except BadRequestError as refused:
            # The server refused the chunk as a whole: each of its items, with the reasons.
            answered = [list(refused.errors)] * len(items)
        by_id = iter(batch_results(sent_ids, answered))
        return [
            next(by_id) if ident in current else UpdateResult(id=ident, status="not_found")
            for ident, _ in chunk
        ]

    async def upsert(self, **fields: Unpack[CustomerFields]) -> Customer:
        """Update the customer with this ``user_id`` (else ``email``), or create one.

        The key (``user_id`` if given, else ``email``) must be a non-empty
        string. Found: the other fields are merged in (`update`). Not found: the
        customer is created; a create that meets ``invalid_userId_value``
        (someone created it meanwhile) finds it and merges instead. A key that
        matches several customers is refused, and nothing is written.
        """
        body = customer_body(fields)
        key, field = _key_of(body)
        if key is None:
            raise InvalidParameterError("upsert needs a user_id or an email to find a customer by")
        update: dict[str, Any] = {k: v for k, v in fields.items() if k != "tags"}
        found = await self._by_key(field, key)
        if not found:
            try:
                return await self.create(**fields)
            except BadRequestError as exc:
                if not any(entry.code == _DUPLICATE_USER_ID for entry in exc.errors):
                    raise
            found = await self._by_key(field, key)
        if len(found) != 1:
            raise InvalidParameterError(
                f"{field} {key!r:.60} matches {len(found)} customers "
                f"({[c.id for c in found][:5]}): upsert needs a key naming one; nothing was written"
            )
        customer = await self.update(found[0].id, **update)
        if "tags" in fields:
            customer = await self.tag(customer.id, fields["tags"])
        return customer

    async def _by_key(self, field: str, key: str) -> builtins.list[Customer]:
        by: LookupKey = "user_id" if field == "customers.userId" else "email"
        return (await self.lookup(by, [key]))[key]

    async def lookup(
        self, by: LookupKey, keys: Iterable[int | str], *, per_search: int = KEYS_PER_SEARCH
    ) -> dict[int | str, builtins.list[Customer]]:
        """Return, for each key, the customers whose ``by`` (id, user_id, email) equals it.

        An empty list: none. Keys share requests: one search holds up to
        ``per_search`` keys joined with OR (and pages through what matches), so
        N keys cost about N / ``per_search`` requests. Emails compare in any
        case. Every key is checked before any request.
        """
        if by not in _LOOKUPS:
            raise InvalidParameterError(f"by must be one of {sorted(_LOOKUPS)}, got {by!r:.40}")
        field, attribute = _LOOKUPS[by]
        per = check_positive_int("per_search", per_search)
        unique = list(dict.fromkeys(_lookup_key(by, key) for key in _items(keys, "keys")))
        found: dict[int | str, builtins.list[Customer]] = {key: [] for key in unique}
        folded = by == "email"
        index = {_folded(key, folded): key for key in unique}
        for start in range(0, len(unique), per):
            where = [Filter(field, "=", key) for key in unique[start : start + per]]
            offset, total = 0, 1
            while offset < total:
                page = await self.search(where, comparison="OR", offset=offset)
                for customer in page.data:
                    # A search may match more loosely than equality: the key must be equal.
                    value = getattr(customer, attribute)
                    key = None if value is None else index.get(_folded(value, folded))
                    if key is not None:
                        found[key].append(customer)
                offset, total = offset + len(page.data), page.total
                if not page.data:
                    break
        return found

    def _finder(
        self, body: dict[str, Any]
    ) -> Callable[[float, float], Awaitable[builtins.list[Customer]]] | None:
        """Return how a created customer is read back: by ``userId``, else ``email``."""
        key, field = _key_of(body)
        if key is None:
            return None
        sent = {k: v for k, v in body.items() if k in _STRING_KEYS}

        async def find(_sent: float, _now: float) -> builtins.list[Customer]:
            # Customers carry no creation time: what was sent must match instead.
            return [c for c in await self._by_key(field, key) if _same(c, sent)]

        return find

    async def tag(self, customer_id: int, tags: Iterable[str]) -> Customer:
        """Add ``tags`` to a customer (unknown tags are created); return the customer."""
        check_positive_int("customer_id", customer_id)
        return await self._writes.send(CUSTOMER_TAG, tag_body(tags), id=customer_id)

    async def untag(self, customer_id: int, tags: Iterable[str]) -> Customer:
        """Remove ``tags`` from a customer; return the customer."""
        check_positive_int("customer_id", customer_id)
        return await self._writes.send(CUSTOMER_UNTAG, tag_body(tags), id=customer_id)

    async def delete(self, customer_id: int) -> None:
        """Delete a customer; `NotFoundError` if there is none.

        Should the answer be lost and a retry meet 404, the delete succeeded (the
        first attempt deleted it) and this returns.
        """
        check_positive_int("customer_id", customer_id)
        await self._writes.send(CUSTOMER_DELETE, id=customer_id)

    async def add_event(
        self, customer_id: int, name: str, data: Mapping[str, Any] | None = None
    ) -> Event:
        """Record an event ``name`` with ``data`` for a customer; return the event.

        An event cannot be read back: a lost answer is `AmbiguousWriteError`.
        """
        return await self._writes.send(EVENT_CREATE, event_body(customer_id, name, data))


_STRING_KEYS = ("name", "email", "userId", "company", "phone", "notes")
_ATTRIBUTES = {"userId": "user_id"}


def _same(customer: Customer, sent: Mapping[str, Any]) -> bool:
    """Return whether ``customer`` holds what a create sent (an email in any case)."""
    for key, value in sent.items():
        have, want = getattr(customer, _ATTRIBUTES.get(key, key)), value
        if key == "email" and isinstance(have, str) and isinstance(want, str):
            have, want = have.casefold(), want.casefold()
        if have != want:
            return False
    return True


def _key_of(body: Mapping[str, Any]) -> tuple[str | None, str]:
    for argument, field in _KEYS:
        key = body.get("userId" if argument == "user_id" else argument)
        if isinstance(key, str) and key:
            return key, field
    return None, ""


def _lookup_key(by: str, key: object) -> int | str:
    if by == "id":
        return check_positive_int("id", key)
    if not isinstance(key, str) or not key:
        raise InvalidParameterError(f"every {by} must be a non-empty string, got {key!r:.40}")
    return key


def _folded(key: int | str, folded: bool) -> int | str:
    return key.casefold() if folded and isinstance(key, str) else key


def _items(items: object, name: str = "items") -> list[object]:
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise InvalidParameterError(f"{name} must be a list, got {type(items).__name__}")
    return list(items)


def _batch_item(n: int, item: object) -> tuple[int, dict[str, Any]]:
    if not isinstance(item, Mapping):
        raise InvalidParameterError(f"items[{n}] must be a mapping with an id, got {item!r:.40}")
    fields = {k: v for k, v in item.items() if k != "id"}
    try:
        ident = check_positive_int("id", item.get("id"))
        return ident, customer_body(fields, tags=False)
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"items[{n}]: {exc}") from None
