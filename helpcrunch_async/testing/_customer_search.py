"""``POST /customers/search`` over the lazy customer base: fast ranges, linear otherwise.

Under AND, every range on ``customers.id``, ``customers.firstSeen`` or
``customers.lastSeen`` is an interval of one sorted order, found by bisection
(``Dataset.rank``). The narrowest one gives the candidates; when it is the order asked for
and no other condition remains, the page is a slice of that order and the total its
length, whatever the account's size (the id-range counts and lastSeen scans of the
incremental sync). Otherwise the candidates (or, under OR, every customer) are checked
one by one, with string and tag conditions precomputed over the fragment pools (a
customer's name, email, place and tags come from pool entries, so a condition is one
table lookup per customer), then sorted by ``(timestamp, id)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpcrunch_async.testing._search import interval, matches
from helpcrunch_async.testing._written import written_value

if TYPE_CHECKING:
    from collections.abc import Callable

    from helpcrunch_async.testing._customer_records import Record
    from helpcrunch_async.testing._dataset import Dataset
    from helpcrunch_async.testing._search import Condition, SearchQuery

# Which order each range field is an interval of (None: id order).
_RANGE_ORDERS: dict[str, str | None] = {
    "customers.id": None,
    "customers.firstSeen": "customers.firstSeen",
    "customers.lastSeen": "customers.lastSeen",
}
_IDENTITY = {
    "customers.name": "name",
    "customers.email": "email",
    "customers.userId": "userId",
    "customers.company": "company",
    "customers.phone": "phone",
}
_PLACE = {
    "customers.city": "city",
    "customers.countryCode": "countryCode",
    "customers.regionCode": "regionCode",
}


def search_customers(data: Dataset, query: SearchQuery) -> tuple[int, list[int]]:
    """Return the number of matching customers and the references of the requested page."""
    sort = query.sort
    candidates: list[int] | None = None
    presorted = True
    rest = query.conditions
    if not query.any_of:
        best: tuple[int, int, str | None] | None = None
        for field, order in _RANGE_ORDERS.items():
            bounds = interval(query.conditions, field)
            if bounds is None:
                continue
            low, high = (_key(order, bounds[0]), _key(order, bounds[1]))
            start, stop = data.rank(order, low), data.rank(order, high)
            if best is None or stop - start < best[1] - best[0]:
                best = (start, stop, order)
        if best is not None:
            start, stop, order = best
            rest = tuple(c for c in query.conditions if c not in _covered(query, order))
            if order == sort and not rest:
                return stop - start, _slice(data, sort, start, stop, query)
            candidates = data.refs(start, stop - start, order, descending=False)
            presorted = order == sort
    if candidates is None:
        candidates = data.refs(0, data.total, sort, descending=False)
    test = _predicate(data, rest, any_of=query.any_of)
    matched = [ref for ref in candidates if test(ref)] if rest else candidates
    if not presorted:
        sort_key = _sort_key(data, sort)
        matched.sort(key=sort_key)
    if query.descending:
        matched.reverse()
    return len(matched), matched[query.offset : query.offset + query.limit]


def _covered(query: SearchQuery, order: str | None) -> tuple[Condition, ...]:
    # The range conditions that the chosen interval already applies.
    field = next(f for f, o in _RANGE_ORDERS.items() if o == order)
    return tuple(
        c for c in query.conditions if c.field == field and c.operator not in ("!=", "~", "!~")
    )


def _key(order: str | None, bound: int) -> tuple[int, int]:
    # Keys are (timestamp, id); for id order (0, id). Ids are positive, so (t, 0) < (t, id).
    return (0, bound) if order is None else (bound, 0)


def _slice(data: Dataset, sort: str | None, start: int, stop: int, query: SearchQuery) -> list[int]:
    size = stop - start
    if query.offset >= size:
        return []
    count = min(query.limit, size - query.offset)
    if not query.descending:
        return data.refs(start + query.offset, count, sort, descending=False)
    chunk = data.refs(stop - query.offset - count, count, sort, descending=False)
    chunk.reverse()
    return chunk


def _sort_key(data: Dataset, sort: str | None) -> Callable[[int], tuple[int, int]]:
    if sort is None:
        return lambda ref: (0, data.ref_id(ref))
    if sort == "customers.firstSeen":
        return lambda ref: (data.record(ref).first_seen, data.ref_id(ref))
    return lambda ref: (data.record(ref).last_seen, data.ref_id(ref))


def _predicate(
    data: Dataset, conditions: tuple[Condition, ...], *, any_of: bool
) -> Callable[[int], bool]:
    tests = [_compile(data, condition) for condition in conditions]
    combine = any if any_of else all

    def test(ref: int) -> bool:
        doc = data.doc(ref)
        if doc is not None:
            # A customer written through the API: its own values, not the pools'.
            return combine(matches(c, written_value(doc, c.field)) for c in conditions)
        record = data.record(ref)
        return combine(t(record) for t in tests)

    return test


def _compile(data: Dataset, condition: Condition) -> Callable[[Record], bool]:
    field = condition.field
    pools = data.decoded
    if field == "customers.id":
        return lambda r: matches(condition, r.id)
    if field in ("customers.firstSeen", "customers.lastSeen"):
        first = field == "customers.firstSeen"
        return lambda r: matches(condition, _ts(r.first_seen if first else r.last_seen))
    if field in _IDENTITY:
        key = _IDENTITY[field]
        identity_mask = bytes(matches(condition, i[key]) for i in pools.identities)
        return lambda r: bool(identity_mask[r.identity])
    if field in _PLACE:
        key = _PLACE[field]
        place_mask = bytes(matches(condition, p[key]) for p in pools.places)
        return lambda r: bool(place_mask[r.place])
    if field == "customers.tagsData":
        tag_mask = bytes(matches(condition, tags) for tags in pools.tags)
        return lambda r: bool(tag_mask[r.profile])
    # Messenger ids: no customer of the emulated account has one (all null).
    constant = matches(condition, None)
    return lambda _: constant


def _ts(value: int) -> int | None:
    return None if value < 0 else value
