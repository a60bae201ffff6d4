"""``POST /chats/search`` over the lazy chats: ranges by bisection, the rest linear.

As for customers (see ``_customer_search``): under AND the narrowest range on
``chats.id``, ``chats.createdAt``, ``chats.updatedAt``, ``chats.lastMessageAt`` or
``chats.closedAt`` is an interval of a sorted view; when that is the order asked for and
nothing else remains, the page is a slice. An ``=`` on ``chats.customer`` (under AND,
or every condition under OR: the sync reading the chats of the customers it re-read)
takes that customer's chats from ``ChatData.of_customer``, an index that only grows.
Everything else is checked chat by chat; the matches are sorted as the order asks.

``chats.status`` compares with the status as sent (``"closed"``, ``"on hold"``); a value
of one digit is read with the one numeric mapping seen in public code (1 new, 2 opened,
3 pending, 4 on hold, 5 closed, 6 no communication, 7 empty), which no vendor text
confirms: the emulator's choice, so that the docs' examples (``"3"``, ``"5"``) find chats.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from helpcrunch_async.testing._search import Condition, interval, matches

if TYPE_CHECKING:
    from helpcrunch_async.testing._chats import ChatData
    from helpcrunch_async.testing._search import SearchQuery

STATUS_CODES = {
    "1": "new",
    "2": "opened",
    "3": "pending",
    "4": "on hold",
    "5": "closed",
    "6": "no communication",
    "7": "empty",
}
_NOT_RANGE = ("!=", "~", "!~")
_RANGE_ORDERS: dict[str, str | None] = {
    "chats.id": None,
    "chats.createdAt": "chats.createdAt",
    "chats.updatedAt": "chats.updatedAt",
    "chats.lastMessageAt": "chats.lastMessageAt",
    "chats.closedAt": "chats.closedAt",
}


def search_chats(data: ChatData, query: SearchQuery) -> tuple[int, list[int]]:
    """Return the number of matching chats and the indices of the requested page."""
    conditions = tuple(_normalise(c) for c in query.conditions)
    sort = query.sort
    rest = conditions
    presorted = True
    by_customer = _by_customer(data, conditions, any_of=query.any_of)
    narrowest = None if query.any_of or by_customer is not None else _narrowest(data, conditions)
    if by_customer is not None:
        candidates, rest = by_customer
        presorted = False
    elif narrowest is not None:
        field, candidates = narrowest
        order = _RANGE_ORDERS[field]
        rest = tuple(c for c in conditions if c.field != field or c.operator in _NOT_RANGE)
        presorted = order == sort
    else:
        view, _ = data.view(sort)
        candidates = view.tolist()
    matched = [i for i in candidates if _test(data, rest, i, any_of=query.any_of)]
    if not presorted:
        matched.sort(key=lambda i: (0 if sort is None else data.key(sort, i), i))
    if query.descending:
        matched.reverse()
    return len(matched), matched[query.offset : query.offset + query.limit]


def _by_customer(
    data: ChatData, conditions: tuple[Condition, ...], *, any_of: bool
) -> tuple[list[int], tuple[Condition, ...]] | None:
    # The chats of the customers named by "chats.customer =": under OR when every
    # condition is one (the candidates are the matches), under AND the first one.
    named = [
        position
        for position, c in enumerate(conditions)
        if c.field == "chats.customer" and c.operator == "="
    ]
    if not named or (any_of and len(named) < len(conditions)):
        return None
    if not any_of:
        used = named[0]
        wanted = conditions[used].value
        found = data.of_customer(int(wanted)) if wanted == int(wanted) else []
        return found, conditions[:used] + conditions[used + 1 :]
    chats: dict[int, None] = {}
    for c in conditions:
        if c.value == int(c.value):
            chats.update(dict.fromkeys(data.of_customer(int(c.value))))
    return list(chats), ()


def _narrowest(data: ChatData, conditions: tuple[Condition, ...]) -> tuple[str, list[int]] | None:
    # The range field whose interval holds the fewest chats, with those chats (ascending).
    best: tuple[int, int, str] | None = None
    for field, order in _RANGE_ORDERS.items():
        bounds = interval(conditions, field)
        if bounds is None:
            continue
        start, stop = data.rank(order, bounds[0]), data.rank(order, bounds[1])
        if best is None or stop - start < best[1] - best[0]:
            best = (start, stop, field)
    if best is None:
        return None
    start, stop, field = best
    view, _ = data.view(_RANGE_ORDERS[field])
    return field, view[start:stop].tolist()


def _test(data: ChatData, conditions: tuple[Condition, ...], index: int, *, any_of: bool) -> bool:
    if not conditions:
        return True
    values = _values(data, index)
    combine = any if any_of else all
    return combine(matches(c, values[c.field]) for c in conditions)


def _normalise(condition: Condition) -> Condition:
    if condition.field == "chats.status" and condition.value in STATUS_CODES:
        return Condition(condition.field, condition.operator, STATUS_CODES[condition.value])
    return condition


def _values(data: ChatData, index: int) -> dict[str, Any]:
    chat = data.chat(index)
    derived = data.derive(chat)
    customer = data.customer(chat)
    agents = data.team.agents
    departments = data.team.departments
    return {
        "chats.id": chat.id,
        "chats.assignee": None if chat.assignee is None else agents[chat.assignee].id,
        "chats.agents": tuple(agents[a].id for a in derived.wrote),
        "chats.createdAt": chat.created_at,
        "chats.updatedAt": derived.updated_at,
        "chats.lastMessageAt": None if derived.newest is None else derived.newest.time,
        "chats.department": (None if chat.department is None else departments[chat.department].id),
        "chats.status": chat.status,
        "chats.closedAt": chat.closed_at,
        "chats.rating": chat.rating,
        "chats.customer": customer.id,
        "chats.customer.email": customer.email,
        "chats.customer.tagsData": customer.tags,
        "chats.customer.userId": customer.user_id,
    }
