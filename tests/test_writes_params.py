"""The wire encoding of every write body (Hypothesis) and every refusal of a bad argument."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

import helpcrunch_async as hc
from helpcrunch_async._core.write_params import (
    CHAT_STATUSES,
    RATINGS,
    chat_body,
    check_rating,
    check_reader,
    check_snooze,
    check_status,
    custom_data_items,
    customer_body,
    event_body,
    merge_custom_data,
    message_body,
    tag_body,
)
from helpcrunch_async._models.customers import Customer
from helpcrunch_async._models.writes import record_body

TEXT = st.text(min_size=1, max_size=20)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
CUSTOM = st.dictionaries(TEXT, VALUES, max_size=6)
OPTIONAL_TEXT = st.one_of(st.none(), st.text(max_size=20))
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "name": OPTIONAL_TEXT,
        "email": OPTIONAL_TEXT,
        "user_id": OPTIONAL_TEXT,
        "company": OPTIONAL_TEXT,
        "phone": OPTIONAL_TEXT,
        "notes": OPTIONAL_TEXT,
        "custom_data": CUSTOM,
        "tags": st.lists(TEXT.filter(str.strip), max_size=4),
    },
)
CAMEL = {"user_id": "userId", "custom_data": "customData"}


@given(fields=FIELDS)
def test_a_customer_body_is_the_api_s_camel_case_with_its_list_forms(
    fields: dict[str, Any],
) -> None:
    body = customer_body(fields)
    wire = msgspec.json.decode(msgspec.json.encode(body))
    assert set(wire) == {CAMEL.get(k, k) for k in fields}
    for key, value in fields.items():
        sent = wire[CAMEL.get(key, key)]
        if key == "custom_data":
            assert sent == [{"property": k, "value": v} for k, v in value.items()]
        elif key == "tags":
            assert sent == [{"name": name} for name in value]
        else:
            assert sent == value
    # What the API answers decodes back to the same fields (customData as a list).
    echoed = msgspec.json.decode(msgspec.json.encode({"id": 1, **wire}), type=Customer)
    if "custom_data" in fields:
        assert {i.property: i.value for i in echoed.custom_data} == fields["custom_data"]


@given(current=CUSTOM, sent=CUSTOM)
def test_a_merged_custom_data_keeps_every_property_and_takes_the_sent_values(
    current: dict[str, Any], sent: dict[str, Any]
) -> None:
    merged = merge_custom_data(current.items(), custom_data_items(sent))
    assert {i["property"]: i["value"] for i in merged} == {**current, **sent}
    assert len({i["property"] for i in merged}) == len(merged)


@given(tags=st.lists(TEXT.filter(str.strip), min_size=1, max_size=5))
def test_tags_go_out_as_name_objects(tags: list[str]) -> None:
    assert tag_body(tags) == {"tags": [{"name": name} for name in tags]}


@given(customer=st.integers(1, 2**63 - 1), name=TEXT.filter(str.strip), data=CUSTOM)
def test_an_event_body(customer: int, name: str, data: dict[str, Any]) -> None:
    assert event_body(customer, name, data) == {"customer": customer, "name": name, "data": data}


@given(spelling=st.sampled_from(sorted(CHAT_STATUSES)))
def test_every_documented_status_spelling_goes_out_as_the_newest_page_spells_it(
    spelling: str,
) -> None:
    assert check_status(spelling) in {
        "new",
        "opened",
        "pending",
        "on hold",
        "no communication",
        "closed",
    }


@given(moment=st.datetimes(timezones=st.just(UTC), min_value=datetime(2001, 1, 1)))  # noqa: DTZ001 -- hypothesis bounds are naive
def test_a_snooze_time_goes_out_as_numeric_unix_seconds(moment: datetime) -> None:
    wire = check_snooze(moment)
    assert wire == str(math.floor(moment.timestamp()))
    shifted = moment.astimezone(timezone(timedelta(hours=5)))
    assert check_snooze(shifted) == wire
    assert check_snooze(int(moment.timestamp()) or 1) is not None
    assert check_snooze(None) is None


@given(
    customer=st.builds(
        Customer,
        id=st.integers(1, 10**9),
        name=OPTIONAL_TEXT,
        email=OPTIONAL_TEXT,
        user_id=OPTIONAL_TEXT,
        notes=OPTIONAL_TEXT,
    )
)
def test_a_record_body_round_trips_every_writable_field(customer: Customer) -> None:
    body = record_body(customer)
    assert body["id"] == customer.id
    assert (body["name"], body["email"], body["userId"]) == (
        customer.name,
        customer.email,
        customer.user_id,
    )


IDS = st.integers(1, 2**63 - 1)


@given(
    customer=IDS,
    application=IDS,
    assignee=st.none() | IDS,
    department=st.none() | IDS,
)
def test_a_chat_body(
    customer: int, application: int, assignee: int | None, department: int | None
) -> None:
    body = chat_body(customer, application, assignee, department)
    expected = {"customer": customer, "application": application}
    expected |= {"assignee": assignee} if assignee is not None else {}
    expected |= {"department": department} if department is not None else {}
    assert msgspec.json.decode(msgspec.json.encode(body)) == expected


@given(
    chat=IDS,
    text=st.text(min_size=1).filter(str.strip),
    agent=st.none() | IDS,
    private=st.booleans(),
)
def test_a_message_body(chat: int, text: str, agent: int | None, *, private: bool) -> None:
    if private and agent is None:
        with pytest.raises(hc.InvalidParameterError, match="agent"):
            message_body(chat, text, agent, private)
        return
    body = message_body(chat, text, agent, private)
    expected: dict[str, Any] = {"chat": chat, "text": text}
    expected["type"] = "private" if private else "message"
    if agent is not None:
        expected["agent"] = agent
    assert msgspec.json.decode(msgspec.json.encode(body)) == expected


BAD_CUSTOM = [
    {"nested": {"a": 1}},
    {"list": [1]},
    {"nan": math.nan},
    {"inf": math.inf},
    {"when": datetime(2024, 1, 1, tzinfo=UTC)},
    {"bytes": b"x"},
    {"big": 2**64},
    {"": 1},
    {1: "x"},
]


@pytest.mark.parametrize("custom_data", [*BAD_CUSTOM, None, [("a", 1)], "a=1"])
def test_custom_data_the_api_cannot_store_is_refused_naming_it(custom_data: object) -> None:
    with pytest.raises(hc.InvalidParameterError, match="custom_data"):
        customer_body({"custom_data": custom_data})


@pytest.mark.parametrize("tags", ["Lead", [1], [""], [None], None, b"x"])
def test_tags_that_are_not_strings_are_refused(tags: object) -> None:
    with pytest.raises(hc.InvalidParameterError, match="tag"):
        customer_body({"tags": tags})


def test_other_refusals_name_the_argument() -> None:
    cases: list[tuple[Any, str]] = [
        (lambda: customer_body({"name": 5}), "name"),
        (lambda: customer_body({"nickname": "x"}), "nickname"),
        (lambda: customer_body({"tags": ["a"]}, tags=False), "tag"),
        (lambda: check_status("done"), "status"),
        (lambda: check_status(None), "status"),
        (lambda: check_snooze(datetime(2030, 1, 1)), "aware"),  # noqa: DTZ001 -- the naive datetime refused
        (lambda: check_snooze(-5), "until"),
        (lambda: check_rating("excellent"), "rating"),
        (lambda: check_reader("bot"), "by"),
        (lambda: tag_body([]), "tags"),
        (lambda: event_body(0, "x", None), "customer_id"),
        (lambda: event_body(1, " ", None), "name"),
        (lambda: event_body(1, "x", {"a": {"b": 1}}), "data"),
    ]
    for call, name in cases:
        with pytest.raises(hc.InvalidParameterError, match=name):
            call()
    assert set(RATINGS) == {"perfect", "great", "average", "poor", "very poor"}
