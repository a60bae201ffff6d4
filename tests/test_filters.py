"""Search filters: every field's type decides its operators and values; refusals name the field."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async._core.filters import (
    CHAT_FIELDS,
    CUSTOMER_FIELDS,
    OPERATORS,
    Filter,
    search_body,
)
from helpcrunch_async._errors import InvalidParameterError

ALL_FIELDS = {**CUSTOMER_FIELDS, **CHAT_FIELDS}
ALLOWED = {
    "integer": {"=", "!=", ">", "<", ">=", "<="},
    "date": {"=", "!=", ">", "<", ">=", "<="},
    "string": {"=", "!=", "~", "!~"},
    "tags": {"="},
}
GOOD_VALUE: dict[str, st.SearchStrategy[Any]] = {
    "integer": st.integers(-(2**40), 2**40),
    "date": st.integers(0, 2**33)
    | st.datetimes(
        min_value=datetime(1971, 1, 1),  # noqa: DTZ001 -- bounds of an aware strategy
        max_value=datetime(2200, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC) | st.just(timezone(timedelta(hours=-5))),
    ),
    "string": st.text(max_size=20),
    "tags": st.lists(
        st.text(min_size=1, max_size=8)
        | st.builds(lambda n: {"name": n}, st.text(min_size=1, max_size=8)),
        min_size=1,
        max_size=4,
    ),
}
BAD_VALUE: dict[str, st.SearchStrategy[Any]] = {
    "integer": st.booleans()
    | st.text(max_size=5)
    | st.floats()
    | st.none()
    | st.lists(st.integers()),
    "date": st.booleans()
    | st.text(max_size=12)
    | st.floats()
    | st.none()
    | st.datetimes(timezones=st.none()),
    "string": st.integers() | st.booleans() | st.none() | st.lists(st.text()),
    "tags": st.text(max_size=5)
    | st.just([])
    | st.lists(st.integers(), min_size=1)
    | st.just([{"nom": "x"}])
    | st.just([""])
    | st.just({"name": "x"}),
}

fields = st.sampled_from(sorted(ALL_FIELDS))


@given(fields, st.sampled_from(OPERATORS), st.data())
def test_an_operator_is_taken_iff_the_field_type_takes_it(
    field: str, operator: str, data: st.DataObject
) -> None:
    kind = ALL_FIELDS[field]
    value = data.draw(GOOD_VALUE[kind])
    if operator in ALLOWED[kind]:
        built = Filter(field, operator, value)  # type: ignore[arg-type]
        assert built.wire["field"] == field
        assert built.wire["operator"] == operator
    else:
        with pytest.raises(InvalidParameterError, match=f"filter on {field}: operator"):
            Filter(field, operator, value)  # type: ignore[arg-type]


@given(fields, st.data())
def test_a_value_of_the_wrong_type_is_refused_naming_the_field(
    field: str, data: st.DataObject
) -> None:
    kind = ALL_FIELDS[field]
    value = data.draw(BAD_VALUE[kind])
    with pytest.raises(InvalidParameterError, match=f"filter on {field}:"):
        Filter(field, "=", value)


@given(st.text(max_size=30).filter(lambda f: f not in ALL_FIELDS), st.sampled_from(OPERATORS))
def test_unknown_fields_are_refused(field: str, operator: str) -> None:
    with pytest.raises(InvalidParameterError, match="is not searchable"):
        Filter(field, operator, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "operator", "value", "problem"),
    [
        ("customers.lastSeen", "~", 5, "operator '~'"),
        ("customers.id", "~", 5, "operator '~'"),
        ("customers.tagsData", "!=", ["Lead"], "operator '!='"),
        ("customers.email", ">", "a", "operator '>'"),
        ("customers.lastSeen", ">=", "18 Jun 2020", "unix seconds"),
        ("chats.createdAt", ">", "1700000000", "unix seconds"),
        ("customers.id", "=", "18", "integer id"),
        ("chats.assignee", "=", True, "integer id"),
        ("customers.lastSeen", ">", True, "unix seconds"),
        ("customers.lastSeen", ">", datetime(2020, 1, 1), "naive"),  # noqa: DTZ001 -- refused
    ],
)
def test_a_wrong_operator_or_value_type_is_refused_naming_it(
    field: str, operator: str, value: object, problem: str
) -> None:
    with pytest.raises(InvalidParameterError, match=f"filter on {field}.*{problem}"):
        Filter(field, operator, value)  # type: ignore[arg-type]


@given(GOOD_VALUE["date"])
def test_dates_go_out_as_whole_unix_seconds(value: int | datetime) -> None:
    wire = Filter("customers.lastSeen", ">=", value).wire["value"]
    expected = value if isinstance(value, int) else math.floor(value.timestamp())
    assert wire == expected
    assert type(wire) is int


@given(st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4), st.data())
def test_tags_as_names_or_objects_give_the_documented_wire_form(
    names: list[str], data: st.DataObject
) -> None:
    mixed = [data.draw(st.sampled_from([n, {"name": n}])) for n in names]
    for field in ("customers.tagsData", "chats.customer.tagsData"):
        assert Filter(field, "=", mixed).wire["value"] == [{"name": n} for n in names]
        assert Filter(field, "=", tuple(names)).wire == Filter(field, "=", mixed).wire


def test_chat_status_passes_through_as_given() -> None:
    for value in ("3", "5", "closed", "on hold"):
        assert Filter("chats.status", "=", value).wire["value"] == value
    with pytest.raises(InvalidParameterError, match=r"chats\.status"):
        Filter("chats.status", "=", 3)


def body(where: object, resource: str = "customers", comparison: str = "AND") -> dict[str, Any]:
    return search_body(
        where,  # type: ignore[arg-type]
        resource=resource,  # type: ignore[arg-type]
        comparison=comparison,
        sort=None,
        order="asc",
        offset=0,
        limit=100,
    )


def test_search_body_is_the_documented_json() -> None:
    where = [
        Filter("customers.email", "~", "example.org"),
        Filter("customers.lastSeen", ">=", 1700000000),
        Filter("customers.tagsData", "=", ["Trial", {"name": "EU"}]),
    ]
    got = search_body(
        where,
        resource="customers",
        comparison="AND",
        sort="customers.lastSeen",
        order="desc",
        offset=0,
        limit=50,
    )
    assert got == {
        "comparison": "AND",
        "filter": [
            {"field": "customers.email", "operator": "~", "value": "example.org"},
            {"field": "customers.lastSeen", "operator": ">=", "value": 1700000000},
            {
                "field": "customers.tagsData",
                "operator": "=",
                "value": [{"name": "Trial"}, {"name": "EU"}],
            },
        ],
        "sort": "customers.lastSeen",
        "order": "desc",
        "offset": 0,
        "limit": 50,
    }
    assert body(iter(where))["filter"] == got["filter"]  # any iterable


@given(st.sampled_from(sorted(CHAT_FIELDS)), st.data())
def test_a_chat_field_is_refused_by_customer_search_and_back(
    field: str, data: st.DataObject
) -> None:
    chat_filter = Filter(field, "=", data.draw(GOOD_VALUE[CHAT_FIELDS[field]]))
    with pytest.raises(InvalidParameterError, match=f"filter on {field}: customers search"):
        body([chat_filter], "customers")
    assert body([chat_filter], "chats")["filter"] == [chat_filter.wire]
    customer_filter = Filter("customers.id", ">", 18)
    with pytest.raises(InvalidParameterError, match=r"filter on customers\.id: chats search"):
        body([chat_filter, customer_filter], "chats")


@given(st.text(max_size=6).filter(lambda c: c not in ("AND", "OR")))
def test_comparisons_other_than_and_or_are_refused(comparison: str) -> None:
    with pytest.raises(InvalidParameterError, match=r"comparison.*customers\.email"):
        body([Filter("customers.email", "~", "x")], comparison=comparison)


@pytest.mark.parametrize(
    "where", [[], (), None, "customers.email", {"field": "x"}, [("a", "=", 1)]]
)
def test_malformed_filter_lists_are_refused(where: object) -> None:
    with pytest.raises(InvalidParameterError, match="filters"):
        body(where)


def test_one_bare_filter_is_refused_with_a_hint() -> None:
    with pytest.raises(InvalidParameterError, match=r"customers.id; wrap it in \[...\]"):
        body(Filter("customers.id", "=", 1))


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        ("customers.lastSeen", "1603885746", 1603885746),
        ("customers.lastSeen", "2020-10-28T11:49:06+00:00", 1603885746),
        ("customers.id", "18", 18),
        ("customers.email", "18", "18"),
        ("customers.tagsData", "Lead, Paid", [{"name": "Lead"}, {"name": "Paid"}]),
        ("chats.status", "3", "3"),
    ],
)
def test_from_text(field: str, text: str, value: object) -> None:
    assert Filter.from_text(field, "=", text).wire["value"] == value


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("customers.lastSeen", "18 Jun 2020"),
        ("customers.lastSeen", "2020-10-28T11:49:06"),
        ("customers.id", "x"),
    ],
)
def test_from_text_refuses_what_the_type_refuses(field: str, text: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"filter on {field}"):
        Filter.from_text(field, "=", text)


# --- refusals a person can act on; nothing unchecked reaches the wire --------------------


def test_a_mistyped_field_gets_a_guess_and_only_its_own_search_fields() -> None:
    with pytest.raises(InvalidParameterError) as caught:
        Filter.from_text("customers.emial", "~", "gmail")
    message = str(caught.value)
    assert "did you mean customers.email?" in message
    assert "customers search takes customers.id" in message
    assert "chats." not in message
    with pytest.raises(InvalidParameterError, match=r"did you mean chats\.createdAt\?"):
        Filter("chats.createAt", ">=", 0)


def test_a_field_of_the_other_search_is_refused_with_a_guess() -> None:
    with pytest.raises(InvalidParameterError, match=r"did you mean chats\.customer\.email\?"):
        body([Filter("customers.email", "~", "x")], "chats")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2026-01-01T00:00:00", "has no offset"),
        ("2026-01-01", "2026-01-01T00:00:00+00:00 for UTC"),
        ("18 Jun 2020", "is not a date; give unix seconds"),
    ],
)
def test_a_date_from_the_command_line_is_refused_in_its_own_terms(text: str, says: str) -> None:
    with pytest.raises(InvalidParameterError) as caught:
        Filter.from_text("chats.createdAt", ">=", text)
    message = str(caught.value)
    assert says in message
    assert "tzinfo" not in message
    assert "datetime" not in message


def test_a_date_with_z_is_taken() -> None:
    assert Filter.from_text("chats.createdAt", ">=", "2026-01-01T00:00:00Z").wire["value"] == (
        1767225600
    )


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("customers.email", "bad\ud800", "the value is not valid text"),
        ("chats.status", "\udfff", "the value is not valid text"),
        ("customers.tagsData", ["Lead", "x\udc80y"], "the tag 2 is not valid text"),
        ("chats.customer.tagsData", [{"name": "\ud83d"}], "the tag 1 is not valid text"),
    ],
)
def test_text_that_utf_8_cannot_carry_is_refused_when_the_filter_is_built(
    field: str, value: object, says: str
) -> None:
    with pytest.raises(InvalidParameterError, match=f"filter on {field}: {says}"):
        Filter(field, "=", value)
    if isinstance(value, str):
        with pytest.raises(InvalidParameterError, match=f"filter on {field}"):
            Filter.from_text(field, "=", value)


@given(st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3), st.text(max_size=5))
def test_any_lone_surrogate_is_refused(surrogates: str, around: str) -> None:
    with pytest.raises(InvalidParameterError, match="lone surrogate"):
        Filter("customers.name", "~", around + surrogates + around)


def test_a_filter_cannot_be_changed_after_its_check() -> None:
    built = Filter("customers.tagsData", "=", ["Lead"])
    built.wire["value"] = "not checked"
    built.wire["field"] = "customers.password"
    built.value.append({"name": 7})
    assert built.wire == {
        "field": "customers.tagsData",
        "operator": "=",
        "value": [{"name": "Lead"}],
    }
    assert body([built])["filter"] == [built.wire]
