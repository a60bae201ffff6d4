import random
from collections import Counter
from itertools import pairwise
from typing import Any

import msgspec
import pytest

from helpcrunch_async.testing import SORT_FIELDS, Dataset
from helpcrunch_async.testing._dataset import FIRST_ID

VENDOR_KEYS = [
    "id",
    "name",
    "email",
    "userId",
    "company",
    "phone",
    "firstSeen",
    "lastSeen",
    "location",
    "device",
    "unsubscribed",
    "blocked",
    "source",
    "referer",
    "locale",
    "notes",
    "lastPage",
    "tags",
    "customData",
]
NULLABLE = ["name", "email", "userId", "company", "phone", "source", "referer", "locale"]
NULLABLE += ["notes", "lastPage", "firstSeen", "lastSeen", "device"]


Customer = dict[str, Any]


def customers(data: Dataset) -> list[Customer]:
    return [
        msgspec.json.decode(data.body(ref))
        for ref in data.refs(0, data.total, None, descending=False)
    ]


@pytest.fixture(scope="module")
def sample() -> list[Customer]:
    return customers(Dataset(3000, seed=7))


def truth(data: Dataset, sort: str | None, *, descending: bool = False) -> list[int]:
    """The order recomputed from decoded customers, independently of the dataset's merge."""
    field = {None: None, "customers.firstSeen": "firstSeen", "customers.lastSeen": "lastSeen"}[sort]

    def key(customer: Customer) -> tuple[int, int]:
        stamp = 0 if field is None else customer[field]
        return (-1 if stamp is None else int(stamp), customer["id"])

    ordered = sorted(customers(data), key=key)
    ids = [c["id"] for c in ordered]
    return ids[::-1] if descending else ids


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    one, two, other = Dataset(500, seed=3), Dataset(500, seed=3), Dataset(500, seed=4)
    assert [one.body(i) for i in range(500)] == [two.body(i) for i in range(500)]
    assert [one.body(i) for i in range(500)] != [other.body(i) for i in range(500)]
    assert one.ids("customers.lastSeen") == two.ids("customers.lastSeen")


def test_a_prefix_does_not_depend_on_the_size() -> None:
    small, large = Dataset(10), Dataset(1000)
    assert [small.body(i) for i in range(10)] == [large.body(i) for i in range(10)]


def test_ids_increase_with_gaps_and_are_found_again(sample: list[Customer]) -> None:
    ids = [c["id"] for c in sample]
    assert ids == sorted(set(ids))
    assert ids[0] >= FIRST_ID
    gaps = Counter(b - a for a, b in pairwise(ids))
    assert len(gaps) > 5
    assert min(gaps) >= 1
    data = Dataset(3000, seed=7)
    for customer in sample[::97]:
        assert msgspec.json.decode(data.customer_json(customer["id"]) or b"") == customer
    assert data.customer_json(ids[-1] + 100) is None
    assert data.customer_json(ids[0] - 1) is None


def test_every_customer_has_the_vendor_shape(sample: list[Customer]) -> None:
    for customer in sample:
        assert list(customer) == VENDOR_KEYS
        assert list(customer["location"]) == ["regionCode", "countryCode", "city"]
        if customer["device"] is not None:
            assert list(customer["device"]) == ["id", "ip", "timezone", "platform", "userAgent"]
        assert all(list(tag) == ["name", "color"] for tag in customer["tags"])
        assert all(list(item) == ["property", "value"] for item in customer["customData"])
        assert isinstance(customer["unsubscribed"], bool)
        assert isinstance(customer["blocked"], bool)


@pytest.mark.parametrize("field", NULLABLE)
def test_nullable_fields_are_sometimes_null_and_sometimes_not(
    sample: list[Customer], field: str
) -> None:
    nulls = sum(c[field] is None for c in sample)
    assert 0 < nulls < len(sample)


def test_the_shares_of_nulls_look_like_the_vendor_data(sample: list[Customer]) -> None:
    share = {f: sum(c[f] is None for c in sample) / len(sample) for f in NULLABLE}
    assert 0.2 < share["device"] < 0.4
    assert 0.05 < share["firstSeen"] < 0.15
    assert 0.02 < share["lastSeen"] < 0.08
    for customer in sample:
        if customer["firstSeen"] is not None:
            assert customer["lastSeen"] >= customer["firstSeen"]


def test_tags_and_custom_data_vary(sample: list[Customer]) -> None:
    assert {len(c["tags"]) for c in sample} == {0, 1, 2, 3}
    assert {len(c["customData"]) for c in sample} == set(range(14))
    kinds = {type(item["value"]) for c in sample for item in c["customData"]}
    assert kinds == {str, int, float, bool, type(None)}


def test_text_is_awkward_enough_for_csv_and_unicode(sample: list[Customer]) -> None:
    texts = [
        str(value)
        for c in sample
        for value in (c["name"], c["company"], c["notes"], *(i["value"] for i in c["customData"]))
        if isinstance(value, str)
    ]
    assert any("," in text for text in texts)
    assert any('"' in text for text in texts)
    assert any("\n" in text for text in texts)
    names = {c["name"] for c in sample if c["name"]}
    assert any(not name.isascii() for name in names)
    assert any(ord(ch) > 0xFFFF for name in names for ch in name), "an emoji, outside the BMP"
    assert any("李雷" in name for name in names)


@pytest.mark.parametrize("sort", [None, *SORT_FIELDS])
@pytest.mark.parametrize("descending", [False, True])
def test_orders_match_the_documented_rule(sort: str | None, descending: bool) -> None:
    data = Dataset(2000, seed=5)
    assert data.ids(sort, descending=descending) == truth(data, sort, descending=descending)


def test_nulls_come_first_ascending_and_ties_break_by_id() -> None:
    data = Dataset(2000, seed=5)
    decoded = {c["id"]: c for c in customers(data)}
    ascending = [decoded[i]["firstSeen"] for i in data.ids("customers.firstSeen")]
    nulls = ascending.count(None)
    assert nulls > 0
    assert ascending[:nulls] == [None] * nulls
    stamps = [s for s in ascending if s is not None]
    assert len(set(stamps)) < len(stamps), "hourly firstSeen values make real ties"
    descending = [decoded[i]["firstSeen"] for i in data.ids("customers.firstSeen", descending=True)]
    assert descending[-nulls:] == [None] * nulls


def test_pages_are_slices_of_the_order() -> None:
    data = Dataset(1000, seed=2)
    for sort in (None, *SORT_FIELDS):
        for descending in (False, True):
            ids = data.ids(sort, descending=descending)
            for offset in (0, 1, 99, 500, 950, 999, 1000, 5000):
                refs = data.refs(offset, 100, sort, descending=descending)
                assert [data.ref_id(r) for r in refs] == ids[offset : offset + 100]


def test_variants_custom_data_object_and_string_timestamps() -> None:
    plain = customers(Dataset(300, seed=1))
    variant = customers(
        Dataset(300, seed=1, custom_data_as_object=True, timestamps_as_strings=True)
    )
    for before, after in zip(plain, variant, strict=True):
        assert after["customData"] == {i["property"]: i["value"] for i in before["customData"]}
        for field in ("firstSeen", "lastSeen"):
            expected = None if before[field] is None else str(before[field])
            assert after[field] == expected


def test_insert_at_start_and_end_of_each_direction() -> None:
    data = Dataset(500, seed=1)
    front = data.insert(3, "start")
    assert data.ids()[:3] == sorted(front)
    for sort in SORT_FIELDS:
        assert set(data.ids(sort)[:3]) == set(front)
    back = data.insert(2, "end")
    assert set(data.ids()[-2:]) == set(back)
    desc_front = data.insert(2, "start", descending=True)
    for order in (None, *SORT_FIELDS):
        assert set(data.ids(order, descending=True)[:2]) == set(desc_front)
    assert data.total == 507
    assert len(set(data.ids())) == 507


def test_delete_from_start_end_random_and_by_id() -> None:
    data = Dataset(500, seed=1)
    order = data.ids("customers.lastSeen")
    gone = data.delete(10, "start", sort="customers.lastSeen")
    assert gone == order[:10]
    assert data.ids("customers.lastSeen") == order[10:]
    gone_end = data.delete(5, "end", sort="customers.lastSeen")
    assert gone_end == order[-5:]
    gone_random = data.delete(7, "random")
    assert len(set(gone_random)) == 7
    assert data.delete_ids([order[100], order[100], 1]) == [order[100]]
    assert data.total == 500 - 10 - 5 - 7 - 1
    assert data.customer_json(order[100]) is None
    assert all(data.customer_json(i) is None for i in gone + gone_end + gone_random)


def test_random_drift_keeps_pages_consistent_with_the_truth() -> None:
    rng = random.Random(11)
    data = Dataset(800, seed=9)
    for _ in range(12):
        if rng.random() < 0.5:
            data.insert(
                rng.randint(1, 40),
                rng.choice(["start", "end", "random"]),
                descending=rng.random() < 0.5,
            )
        else:
            data.delete(
                rng.randint(1, 40),
                rng.choice(["start", "end", "random"]),
                sort=rng.choice([None, *SORT_FIELDS]),
            )
        sort = rng.choice([None, *SORT_FIELDS])
        descending = rng.random() < 0.5
        ids = truth(data, sort, descending=descending)
        assert data.ids(sort, descending=descending) == ids
        offset = rng.randrange(0, data.total + 10)
        refs = data.refs(offset, 100, sort, descending=descending)
        assert [data.ref_id(r) for r in refs] == ids[offset : offset + 100]


def test_inserted_customers_are_served_by_id() -> None:
    data = Dataset(100)
    (new,) = data.insert(1, "random")
    body = data.customer_json(new)
    assert body is not None
    assert msgspec.json.decode(body)["id"] == new
    assert data.delete_ids([new]) == [new]
    assert data.customer_json(new) is None


def test_drift_on_a_large_dataset_serves_every_page_exactly() -> None:
    # Its cost, against a rebuild of the sort, is measured in
    # benchmarks/emulator_throughput.py; here only what it serves.
    sort = "customers.firstSeen"
    data = Dataset(100_000, seed=1)
    before = data.ids(sort)
    new = data.insert(300, "start")
    gone = set(data.delete(300, "random", sort=sort))
    # Fresh ids below every other with null timestamps come first, the rest in
    # the order the permutation had before the drift, less what was deleted.
    expected = sorted(set(new) - gone) + [i for i in before if i not in gone]
    assert len(gone) == 300
    assert data.total == len(expected) == 100_000 + 300 - 300
    assert data.ids(sort) == expected
    for offset in range(0, 100_000, 10_000):
        refs = data.refs(offset, 100, sort, descending=False)
        assert [data.ref_id(ref) for ref in refs] == expected[offset : offset + 100]


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="size"):
        Dataset(-1)
    data = Dataset(10)
    with pytest.raises(ValueError, match="position"):
        data.insert(1, "middle")
    with pytest.raises(ValueError, match="position"):
        data.delete(1, "middle")
    with pytest.raises(ValueError, match="sort"):
        data.ids("customers.name")
    empty = Dataset(0)
    assert empty.ids("customers.firstSeen") == []
    assert empty.refs(0, 100, None, descending=True) == []
