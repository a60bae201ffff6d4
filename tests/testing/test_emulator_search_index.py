"""The emulator's indexed customer search gives exactly what a scan of every customer gives.

Accounts and their changes (drift, visits, written and created customers, deletions)
are drawn by Hypothesis, then searches aimed at the indexes (ids, id ranges, emails,
userIds, joined with OR or AND, with other conditions beside them); each answer is
compared with the brute-force filter of ``search_truth`` over the customers as served.
The first test calls the search directly (pure logic); the second writes and searches
over loopback HTTP.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from emulator_api import api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from search_truth import brute_force, chat_value_of, customer_value, post, values_strategy

from helpcrunch_async.testing import CHAT_FIELDS, CUSTOMER_FIELDS, ThreadedEmulator
from helpcrunch_async.testing._customer_search import search_customers
from helpcrunch_async.testing._dataset import POSITIONS, SORT_FIELDS, Dataset
from helpcrunch_async.testing._search import CUSTOMER_SORTS, SearchQuery, parse_search

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.timeout(300)

SORTS: list[str | None] = [None, *CUSTOMER_SORTS]
EMAILS = ["ann@x.test", "bob@x.test", "Ann@x.test"]
USER_IDS = ["u-1", "u-2"]
Step = tuple[Any, ...]


def served(data: Dataset) -> list[dict[str, Any]]:
    """Every live customer as the server sends it, in id order."""
    refs = data.refs(0, data.total, None, descending=False)
    return [msgspec.json.decode(data.body(ref)) for ref in refs]


def apply(data: Dataset, step: Step, written: list[int]) -> None:
    """Change the account: drift, a visit, a written or created customer, a deletion.

    ``written`` holds the ids stored or created so far: a visit or deletion aims at
    one of them when its number is even (they move between the key index's entries).
    """
    kind = step[0]
    live = data.ids()
    if kind == "insert":
        data.insert(step[1], step[2])
    elif kind == "delete":
        data.delete(step[1], step[2], sort=step[3])
    elif live and kind in ("delete_id", "visit"):
        mine = [i for i in written if data.find(i) is not None]
        pool = mine if mine and step[1] % 2 == 0 else live
        target = pool[step[1] % len(pool)]
        if kind == "visit":
            data.visit([target])
        else:
            data.delete_ids([target])
    elif live and kind == "store":
        customer_id = live[step[1] % len(live)]
        ref = data.find(customer_id)
        assert ref is not None
        doc = data.doc(ref) or msgspec.json.decode(data.body(ref))
        data.store({**doc, "email": step[2], "userId": step[3]})
        written.append(customer_id)
    elif live and kind == "create":
        model = {k: v for k, v in served(data)[0].items() if k != "id"}
        written.append(data.create({**model, "email": step[2], "userId": step[3]})["id"])


steps = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.integers(1, 4), st.sampled_from(POSITIONS)),
        st.tuples(
            st.just("delete"),
            st.integers(1, 4),
            st.sampled_from(POSITIONS),
            st.sampled_from([None, *SORT_FIELDS]),
        ),
        st.tuples(st.sampled_from(["delete_id", "visit"]), st.integers(0, 10**6)),
        st.tuples(
            st.sampled_from(["store", "create"]),
            st.integers(0, 10**6),
            st.sampled_from([*EMAILS, None]),
            st.sampled_from([*USER_IDS, None]),
        ),
    ),
    max_size=12,
)


def keyed_filter(items: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A condition the indexes answer: an id (present, gone or fractional), a range, a key."""
    ids = [item["id"] for item in items] or [100_000]
    emails = sorted({i["email"] for i in items if i["email"]} | set(EMAILS))
    user_ids = sorted({i["userId"] for i in items if i["userId"]} | set(USER_IDS))
    some_id = st.sampled_from(ids)
    return st.one_of(
        st.builds(lambda i: {"field": "customers.id", "operator": "=", "value": i}, some_id),
        st.builds(
            lambda i, d: {"field": "customers.id", "operator": "=", "value": i + d},
            some_id,
            st.sampled_from([1, 0.5, -7]),
        ),
        st.builds(
            lambda i, op: {"field": "customers.id", "operator": op, "value": i},
            some_id,
            st.sampled_from([">", "<", ">=", "<="]),
        ),
        st.builds(
            lambda e: {"field": "customers.email", "operator": "=", "value": e},
            st.sampled_from(emails),
        ),
        st.builds(
            lambda u: {"field": "customers.userId", "operator": "=", "value": u},
            st.sampled_from(user_ids),
        ),
    )


def bodies(items: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Search bodies made mostly of indexed conditions, now and then another beside them."""
    one = st.one_of(keyed_filter(items), keyed_filter(items), values_value(items))
    return st.fixed_dictionaries(
        {
            "filter": st.lists(one, min_size=1, max_size=8),
            "comparison": st.sampled_from(["OR", "AND"]),
            "order": st.sampled_from(["asc", "desc"]),
            "offset": st.integers(0, 12),
            "limit": st.integers(1, 100),
        },
        optional={"sort": st.sampled_from(SORTS)},
    ).map(lambda body: {k: v for k, v in body.items() if v is not None})


def values_value(items: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Any condition on any field, drawn from the values customers hold."""
    if not items:
        return st.just({"field": "customers.name", "operator": "~", "value": "a"})
    return values_strategy(items, CUSTOMER_FIELDS, customer_value)


def answer(data: Dataset, body: dict[str, Any]) -> tuple[int, list[int]]:
    """The emulator's search, called directly: total and the page's ids."""
    query = parse_search(body, CUSTOMER_FIELDS, CUSTOMER_SORTS)
    assert isinstance(query, SearchQuery), query
    total, refs = search_customers(data, query)
    return total, [data.ref_id(ref) for ref in refs]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(0, 120),
    seed=st.integers(0, 3),
    changes=steps,
    data=st.data(),
)
def test_indexed_searches_equal_a_scan_after_any_changes(
    size: int, seed: int, changes: list[Step], data: st.DataObject
) -> None:
    account = Dataset(size, seed)
    # A first search builds the key index, so the changes after it must keep it right.
    answer(account, {"filter": [{"field": "customers.email", "operator": "=", "value": "-"}]})
    written: list[int] = []
    for step in changes:
        apply(account, step, written)
    items = served(account)
    for _ in range(4):
        body = data.draw(bodies(items))
        assert answer(account, body) == brute_force(items, body, customer_value), body


def searched(emu: ThreadedEmulator, body: dict[str, Any]) -> tuple[int, list[int]]:
    status, found = post(emu, "/customers/search", body)
    assert status == 200, found
    return found["total"], [c["id"] for c in found["data"]]


def either(field: str, values: list[Any]) -> dict[str, Any]:
    return {
        "filter": [{"field": field, "operator": "=", "value": v} for v in values],
        "comparison": "OR",
    }


def test_api_writes_move_customers_between_keys_at_once() -> None:
    with ThreadedEmulator(customers=400, seed=5) as emu:

        async def call(method: str, path: str, body: Any = None) -> Any:
            async with api(emu.emulator) as client:
                status, raw = await client.raw(method, path, json=body)
                assert status < 300, raw
                return msgspec.json.decode(raw) if raw else None

        def check(body: dict[str, Any]) -> tuple[int, list[int]]:
            got = searched(emu, body)
            assert got == brute_force(emu.truth_customers(), body, customer_value), body
            return got

        emails: Callable[[], dict[str, Any]] = lambda: either(  # noqa: E731 -- read again each time
            "customers.email", ["ann@x.test", "bea@x.test"]
        )
        ann = asyncio.run(call("POST", "/customers", {"name": "Ann", "email": "ann@x.test"}))
        bea = asyncio.run(call("POST", "/customers", {"email": "bea@x.test", "userId": "u-9"}))
        assert check(emails()) == (2, [ann["id"], bea["id"]])
        asyncio.run(call("PUT", f"/customers/{ann['id']}", {"email": "ann@y.test"}))
        assert check(emails()) == (1, [bea["id"]])
        assert check(either("customers.email", ["ann@y.test"])) == (1, [ann["id"]])
        asyncio.run(call("DELETE", f"/customers/{bea['id']}"))
        assert check(emails()) == (0, [])
        assert check(either("customers.userId", ["u-9"])) == (0, [])
        ids = emu.expected_ids()
        chosen = [ids[3], ids[200], ann["id"], bea["id"], 99]
        assert check(either("customers.id", chosen)) == (3, sorted(chosen[:3]))
        emu.delete(ids=[ids[200]])
        emu.visit([ids[3]])
        assert check(either("customers.id", chosen))[0] == 2
        check({**either("customers.id", chosen), "sort": "customers.lastSeen", "order": "desc"})


def test_chats_by_customer_equal_a_scan_as_chats_come_and_go() -> None:
    with ThreadedEmulator(customers=50, chats=120, seed=6) as emu:
        # The first search builds the index; chats made and deleted after it must show.
        searched_chats(emu, either("chats.customer", [1]))
        emu.add_chats(6)
        # The owners of the deleted chats too: their other chats must still be found, not these.
        owners = [*sorted({chat["customer"]["id"] for chat in emu.truth_chats()}), 7]
        emu.delete_chats(emu.expected_chat_ids()[5:8])
        truth = emu.truth_chats()
        value = chat_value_of(emu)
        other = values_strategy(truth, CHAT_FIELDS, value)
        owner = st.builds(
            lambda i: {"field": "chats.customer", "operator": "=", "value": i},
            st.sampled_from(owners),
        )
        body = st.fixed_dictionaries(
            {
                "filter": st.lists(st.one_of(owner, owner, other), min_size=1, max_size=6),
                "comparison": st.sampled_from(["OR", "AND"]),
                "order": st.sampled_from(["asc", "desc"]),
                "offset": st.integers(0, 5),
                "limit": st.integers(1, 100),
            },
            optional={"sort": st.sampled_from([None, "chats.createdAt", "chats.lastMessageAt"])},
        ).map(lambda b: {k: v for k, v in b.items() if v is not None})

        @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(body=body)
        def check(body: dict[str, Any]) -> None:
            assert searched_chats(emu, body) == brute_force(truth, body, value), body

        check()


def searched_chats(emu: ThreadedEmulator, body: dict[str, Any]) -> tuple[int, list[int]]:
    status, found = post(emu, "/chats/search", body)
    assert status == 200, found
    return found["total"], [c["id"] for c in found["data"]]
