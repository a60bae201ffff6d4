"""``POST /customers/search`` over the lazy customer base: indexed where it can, linear otherwise.

Every answer is the one a scan of every customer would give (same total, same order,
same pages); the indexes only choose which customers are looked at:

1. Under AND, every range on ``customers.id``, ``customers.firstSeen`` or
   ``customers.lastSeen`` is an interval of one sorted order, found by bisection
   (``Dataset.rank``); an ``=`` on id is one lookup (``Dataset.find``), an ``=`` on
   email or userId the key index's entries (``Dataset.with_key``). The narrowest of
   these gives the candidates and the other conditions are tested on each.
2. When that narrowest is an interval of the order asked for and no other condition
   remains, the page is a slice of that order and the total its length, whatever the
   account's size (the id-range counts and lastSeen scans of the incremental sync).
3. Under OR, when an index answers every condition (the sync's and the import's
   lookups: many ids, emails or userIds a search), the matches are the union of the
   answers; otherwise every customer is tested.
4. Candidates are tested one by one, with string and tag conditions precomputed over
   the fragment pools (a customer's name, email, place and tags come from pool
   entries, so a condition is one table lookup per customer), then sorted by
   ``(timestamp, id)``: the order of every view, so no order differs from a scan's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from helpcrunch_async.testing._customer_keys import KEY_FIELDS
from helpcrunch_async.testing._search import Condition, interval, matches
from helpcrunch_async.testing._written import written_value

if TYPE_CHECKING:
    from collections.abc import Callable

    from helpcrunch_async.testing._customer_records import Record
    from helpcrunch_async.testing._dataset import Dataset
    from helpcrunch_async.testing._search import SearchQuery

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


class _Plan(NamedTuple):
    """Where a search's matches are looked for, and what is left to test on each."""

    candidates: list[int] | None  # None: every customer, in the order asked for
    rest: tuple[Condition, ...]
    presorted: bool
    # An interval of the order asked for that is the whole answer: (start, stop).
    whole: tuple[int, int] | None = None


def search_customers(data: Dataset, query: SearchQuery) -> tuple[int, list[int]]:
    """Return the number of matching customers and the references of the requested page."""
    sort = query.sort
    plan = _plan_any(data, query) if query.any_of else _plan_all(data, query)
    if plan.whole is not None:
        start, stop = plan.whole
        return stop - start, _slice(data, sort, start, stop, query)
    candidates = plan.candidates
    if candidates is None:
        candidates = data.refs(0, data.total, sort, descending=False)
    rest = plan.rest
    test = _predicate(data, rest, any_of=query.any_of)
    matched = [ref for ref in candidates if test(ref)] if rest else candidates
    if not plan.presorted:
        sort_key = _sort_key(data, sort)
        matched.sort(key=sort_key)
    if query.descending:
        matched.reverse()
    return len(matched), matched[query.offset : query.offset + query.limit]


def _plan_any(data: Dataset, query: SearchQuery) -> _Plan:
    # Under OR: when an index answers every condition, the union of their answers.
    found: dict[int, None] = {}
    for condition in query.conditions:
        refs = _exact(data, condition)
        if refs is None:
            return _Plan(None, query.conditions, presorted=True)
        found.update(dict.fromkeys(refs))
    if not query.conditions:
        return _Plan(None, (), presorted=True)
    return _Plan(list(found), (), presorted=False)


def _plan_all(data: Dataset, query: SearchQuery) -> _Plan:
    # Under AND: the narrowest of the range intervals and the key equalities.
    best: tuple[int, int, str | None] | None = None
    for field, order in _RANGE_ORDERS.items():
        bounds = interval(query.conditions, field)
        if bounds is None:
            continue
        low, high = (_key(order, bounds[0]), _key(order, bounds[1]))
        start, stop = data.rank(order, low), data.rank(order, high)
        if best is None or stop - start < best[1] - best[0]:
            best = (start, stop, order)
    keyed = _narrowest_key(data, query.conditions)
    if keyed is not None and (best is None or len(keyed[1]) < best[1] - best[0]):
        used, refs = keyed
        return _Plan(refs, query.conditions[:used] + query.conditions[used + 1 :], presorted=False)
    if best is None:
        return _Plan(None, query.conditions, presorted=True)
    start, stop, order = best
    rest = tuple(c for c in query.conditions if c not in _covered(query, order))
    if order == query.sort and not rest:
        return _Plan(None, (), presorted=True, whole=(start, stop))
    refs = data.refs(start, stop - start, order, descending=False)
    return _Plan(refs, rest, presorted=order == query.sort)


def _exact(data: Dataset, condition: Condition) -> list[int] | None:
    """Return the refs matching one condition, found by an index; None when only a scan can.

    An ``=`` on id is one lookup; another range on id, firstSeen or lastSeen an
    interval of its order; an ``=`` on email or userId the key index's entries.
    """
    field, op = condition.field, condition.operator
    if op in ("!=", "~", "!~"):
        return None
    if field == "customers.id" and op == "=":
        value = condition.value
        ref = data.find(int(value)) if value == int(value) else None
        return [] if ref is None else [ref]
    if field in _RANGE_ORDERS:
        order = _RANGE_ORDERS[field]
        bounds = interval((condition,), field)
        if bounds is None:  # pragma: no cover -- every range operator gives bounds
            return None
        start, stop = (
            data.rank(order, _key(order, bounds[0])),
            data.rank(order, _key(order, bounds[1])),
        )
        return data.refs(start, stop - start, order, descending=False)
    if field in KEY_FIELDS and op == "=":
        return data.with_key(field, condition.value)
    return None


def _narrowest_key(
    data: Dataset, conditions: tuple[Condition, ...]
) -> tuple[int, list[int]] | None:
    # Under AND: the equality on id, email or userId with the fewest matches (its position).
    best: tuple[int, list[int]] | None = None
    for position, condition in enumerate(conditions):
        if condition.operator != "=" or condition.field not in (*KEY_FIELDS, "customers.id"):
            continue
        refs = _exact(data, condition)
        if refs is not None and (best is None or len(refs) < len(best[1])):
            best = (position, refs)
    return best


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
