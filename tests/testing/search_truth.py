"""The search oracle: filters written from customers-search.md, independently of the emulator.

A helper of the emulator's search tests, not a test module: the brute-force filter,
the field values it reads from a customer or chat as served, the Hypothesis
strategies of search bodies, and one POST to a running emulator.
"""

from __future__ import annotations

import asyncio
import operator
from typing import TYPE_CHECKING, Any

import msgspec
from emulator_api import api
from hypothesis import strategies as st

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from helpcrunch_async.testing import ThreadedEmulator

COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
    "~": lambda actual, wanted: wanted in actual,
}
OPERATORS = {
    "int": ["=", "!=", ">", "<", ">=", "<="],
    "date": ["=", "!=", ">", "<", ">=", "<="],
    "string": ["=", "!=", "~", "!~"],
    "tags": ["="],
}


def holds(op: str, actual: Any, wanted: Any) -> bool:
    if op in ("!=", "!~"):
        return not holds("=" if op == "!=" else "~", actual, wanted)
    if actual is None:
        return False
    if isinstance(wanted, list):  # tags: all of them
        return {w if isinstance(w, str) else w["name"] for w in wanted} <= set(actual)
    if isinstance(actual, list):  # chats.agents: any of them
        return any(holds(op, member, wanted) for member in actual)
    return COMPARE[op](actual, wanted)


def customer_value(customer: dict[str, Any], field: str) -> Any:
    name = field.removeprefix("customers.")
    if name in ("city", "countryCode", "regionCode"):
        return customer["location"][name]
    if name == "tagsData":
        return [tag["name"] for tag in customer["tags"]]
    return customer.get(name)  # the messenger ids: no customer has one


def brute_force(
    items: list[dict[str, Any]],
    body: dict[str, Any],
    value: Callable[[dict[str, Any], str], Any],
) -> tuple[int, list[int]]:
    filters = body.get("filter", [])
    combine = any if body.get("comparison", "AND").upper() == "OR" else all
    found = [
        item
        for item in items
        if not filters
        or combine(holds(f["operator"], value(item, f["field"]), f["value"]) for f in filters)
    ]
    sort = body.get("sort")

    def key(item: dict[str, Any]) -> tuple[int, int]:
        if sort is None:
            return (0, item["id"])
        stamp = value(item, sort)
        return (-1 if stamp is None else stamp, item["id"])

    found.sort(key=key, reverse=body.get("order", "asc").lower() == "desc")
    offset, limit = body.get("offset", 0), body.get("limit", 100)
    return len(found), [item["id"] for item in found[offset : offset + limit]]


def post(emu: ThreadedEmulator, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    async def call() -> tuple[int, Any]:
        async with api(emu.emulator) as client:
            status, raw = await client.raw("POST", path, json=body)
            return status, raw

    status, raw = asyncio.run(call())
    return status, msgspec.json.decode(raw)


def values_strategy(
    items: list[dict[str, Any]],
    fields: Mapping[str, str],
    value: Callable[[dict[str, Any], str], Any],
) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def one(draw: st.DrawFn) -> dict[str, Any]:
        field = draw(st.sampled_from(sorted(fields)))
        kind = fields[field]
        op = draw(st.sampled_from(OPERATORS[kind]))
        seen = [value(item, field) for item in items]
        if kind == "tags":
            names = sorted({n for tags in seen for n in tags})
            chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2))
            wanted: Any = draw(st.sampled_from([chosen, [{"name": n} for n in chosen]]))
        elif kind == "string":
            texts = sorted({s for s in seen if isinstance(s, str)} | {"zz-nothing"})
            text = draw(st.sampled_from(texts))
            if op in ("~", "!~"):
                start = draw(st.integers(0, max(len(text) - 1, 0)))
                text = text[start : start + draw(st.integers(1, 4))]
            wanted = text
        else:
            numbers = sorted({n for n in seen if isinstance(n, int)} | {0})
            wanted = draw(st.sampled_from(numbers)) + draw(st.sampled_from([-1, 0, 0, 1]))
        return {"field": field, "operator": op, "value": wanted}

    return one()


def search_bodies(
    items: list[dict[str, Any]],
    fields: Mapping[str, str],
    sorts: list[str | None],
    value: Callable[[dict[str, Any], str], Any],
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "filter": st.lists(values_strategy(items, fields, value), min_size=1, max_size=3),
            "comparison": st.sampled_from(["AND", "OR", "and"]),
            "order": st.sampled_from(["asc", "desc", "DESC"]),
            "offset": st.integers(0, 30),
            "limit": st.integers(1, 100),
        },
        optional={"sort": st.sampled_from(sorts)},
    ).map(lambda body: {k: v for k, v in body.items() if v is not None})


def chat_value_of(emu: ThreadedEmulator) -> Callable[[dict[str, Any], str], Any]:
    tags = {c["id"]: [t["name"] for t in c["tags"]] for c in emu.truth_customers()}
    updated = {c["id"]: emu.emulator.chat_updated_at(c["id"]) for c in emu.truth_chats()}

    def ref(chat: dict[str, Any], key: str) -> Any:
        return None if chat[key] is None else chat[key]["id"]

    special: dict[str, Callable[[dict[str, Any]], Any]] = {
        "assignee": lambda chat: ref(chat, "assignee"),
        "department": lambda chat: ref(chat, "department"),
        "agents": lambda chat: [a["id"] for a in chat["agents"]],
        "customer": lambda chat: chat["customer"]["id"],
        "customer.email": lambda chat: chat["customer"]["email"],
        "customer.userId": lambda chat: chat["customer"]["userId"],
        "customer.tagsData": lambda chat: tags[chat["customer"]["id"]],
        "updatedAt": lambda chat: updated[chat["id"]],
    }

    def value(chat: dict[str, Any], field: str) -> Any:
        name = field.removeprefix("chats.")
        return special[name](chat) if name in special else chat[name]

    return value
