"""The wire models: every documented variant decodes, normalises and encodes back."""

from __future__ import annotations

import json
import pickle

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async._models.customers import (
    CustomDataItem,
    Customer,
    CustomersPage,
    Device,
    Location,
    Scalar,
    Tag,
    decode_customer,
    decode_page,
    encode_customer,
)
from helpcrunch_async._models.errors import ErrorBody, ErrorEntry, decode_error_body

# The vendor's example page, transcribed as valid JSON (the doc drops a brace in
# the first customer's customData and has a trailing comma and a missing brace
# in the last one's). Customer 265555 keeps its twelve entries.
VENDOR_PAGE = b"""
{
  "total": 754698,
  "data": [
    {
      "id": 265555, "name": "test", "email": "test@test.com", "userId": "test123abc_1",
      "company": "test123abc", "phone": null, "firstSeen": null, "lastSeen": 1588603952,
      "location": {"regionCode": "CA", "countryCode": "US", "city": "Los Angeles"},
      "device": {
        "id": 28874635, "ip": "192.168.1.1", "timezone": "America/Los Angeles",
        "platform": "desktop",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
      },
      "unsubscribed": false, "blocked": false, "source": "https://helpcrunch.com/",
      "referer": "https://google.com/", "locale": "en", "notes": null,
      "lastPage": "https://helpcrunch.com/zendesk-alternative.html",
      "tags": [{"name": "direct", "color": "#0079bf"}],
      "customData": [
        {"property": "Role", "value": "admin"},
        {"property": "Plan", "value": "Enterprise (Unlimited) $9999/mo"},
        {"property": "segment", "value": "PotentialChurn_premium_seg1"},
        {"property": "Currency", "value": "USD"},
        {"property": "Emails sent", "value": 621},
        {"property": "Trial end date", "value": "2017-07-24 14:30:00"},
        {"property": "Became payer at", "value": "2017-09-13 00:00:00"},
        {"property": "Registered date", "value": "2017-07-10 14:30:00"},
        {"property": "Next payment date", "value": "2020-09-01 00:40:00"},
        {"property": "Billing info added", "value": true},
        {"property": "Number of payments", "value": 35},
        {"property": "Subscription status", "value": "active"}
      ]
    },
    {
      "id": 265580, "name": "Lana Del Red", "email": "lana.red@example.com", "userId": null,
      "company": null, "phone": null, "firstSeen": null, "lastSeen": null,
      "location": {"regionCode": null, "countryCode": null, "city": null},
      "device": null, "unsubscribed": false, "blocked": false, "source": null,
      "referer": null, "locale": null, "notes": null, "lastPage": null,
      "tags": [{"name": "direct", "color": "#0079bf"}],
      "customData": [{"property": "Tried Something", "value": false}]
    },
    {
      "id": 7831682, "name": "Vlad Darkula", "email": "vlad.dark@transylmania.com",
      "userId": "transylmania_6996", "company": "transylmania", "phone": null,
      "firstSeen": 1593068924, "lastSeen": 1593093642,
      "location": {"regionCode": "40", "countryCode": "RO", "city": "Cluj-Napoca"},
      "device": {
        "id": 28889690, "ip": "192.168.1.2", "timezone": "Europe/Kiev",
        "platform": "desktop", "userAgent": "Mozilla/5.0 (Macintosh)"
      },
      "unsubscribed": true, "blocked": true, "source": "https://www.blood.co.uk/",
      "referer": null, "locale": "ro", "notes": null,
      "lastPage": "https://www.blood.co.uk/who-can-give-blood/",
      "tags": [],
      "customData": [
        {"property": "segment", "value": null},
        {"property": "Emails sent", "value": 0},
        {"property": "Trial end date", "value": "2020-11-24 14:30:00"},
        {"property": "Subscription status", "value": "trial"}
      ]
    }
  ]
}
"""


def _customer(**fields: object) -> bytes:
    return json.dumps({"id": 1, **fields}).encode()


def test_the_vendor_example_page_decodes() -> None:
    page = decode_page(VENDOR_PAGE)
    assert isinstance(page, CustomersPage)
    assert page.total == 754698
    assert [c.id for c in page.data] == [265555, 265580, 7831682]
    first, lana, vlad = page.data
    assert first.user_id == "test123abc_1"
    assert first.first_seen is None
    assert first.last_seen == 1588603952
    assert first.location == Location(region_code="CA", country_code="US", city="Los Angeles")
    assert first.device is not None
    assert first.device.id == 28874635
    assert first.device.user_agent is not None
    assert first.device.user_agent.startswith("Mozilla/5.0")
    assert first.last_page == "https://helpcrunch.com/zendesk-alternative.html"
    assert first.tags == [Tag("direct", "#0079bf")]
    assert len(first.custom_data) == 12
    assert first.custom_data[4] == CustomDataItem("Emails sent", 621)
    assert first.custom_data[9] == CustomDataItem("Billing info added", value=True)
    assert lana.device is None
    assert lana.location == Location()
    assert lana.custom_data == [CustomDataItem("Tried Something", value=False)]
    assert vlad.unsubscribed
    assert vlad.blocked
    assert vlad.tags == []
    assert vlad.custom_data[0] == CustomDataItem("segment", None)


def test_custom_data_values_keep_their_json_types() -> None:
    body = _customer(
        customData=[
            {"property": "s", "value": "1"},
            {"property": "i", "value": 1},
            {"property": "f", "value": 1.5},
            {"property": "b", "value": True},
            {"property": "n", "value": None},
        ]
    )
    values = [item.value for item in decode_customer(body).custom_data]
    assert values == ["1", 1, 1.5, True, None]
    assert [type(v) for v in values] == [str, int, float, bool, type(None)]


def test_custom_data_object_becomes_the_list_in_order() -> None:
    body = (
        b'{"id": 1, "customData": {"Role": "admin", "Emails sent": 621, "Paid": true, "x": null}}'
    )
    customer = decode_customer(body)
    assert customer.custom_data == [
        CustomDataItem("Role", "admin"),
        CustomDataItem("Emails sent", 621),
        CustomDataItem("Paid", value=True),
        CustomDataItem("x", None),
    ]


def test_both_custom_data_forms_give_equal_customers() -> None:
    as_list = _customer(customData=[{"property": "a", "value": 1}, {"property": "b", "value": "x"}])
    as_object = _customer(customData={"a": 1, "b": "x"})
    assert decode_customer(as_list) == decode_customer(as_object)


def test_empty_custom_data_object_and_missing_custom_data_are_empty_lists() -> None:
    assert decode_customer(_customer(customData={})).custom_data == []
    assert decode_customer(_customer()).custom_data == []


@pytest.mark.parametrize(
    ("wire", "seconds"),
    [
        (1588603952, 1588603952),
        ("1588603952", 1588603952),
        ("1588603952.0", 1588603952),
        (" 1588603952 ", 1588603952),
        (1588603952.0, 1588603952),
        (1588603952.9, 1588603952),
        ("1588603952.9", 1588603952),
        ("1.588603952e9", 1588603952),
        (None, None),
        ("", None),
        (0, 0),
    ],
)
def test_timestamps_normalise_to_int_or_none(wire: object, seconds: int | None) -> None:
    customer = decode_customer(_customer(firstSeen=wire, lastSeen=wire))
    assert customer.first_seen == seconds
    assert customer.last_seen == seconds
    assert type(customer.first_seen) is type(seconds)


@pytest.mark.parametrize("bad", ["abc", "12abc", "1_000", "nan", "inf", "1e999", "0x10"])
def test_a_bad_timestamp_is_a_validation_error_with_the_path(bad: str) -> None:
    body = b'{"total": 2, "data": [{"id": 1}, {"id": 2, "lastSeen": "%s"}]}' % bad.encode()
    with pytest.raises(msgspec.ValidationError, match=r"lastSeen.*at `\$\.data\[1\]`"):
        decode_page(body)


def test_wrong_types_are_validation_errors_with_the_field_path() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.data\[0\]\.id"):
        decode_page(b'{"total": 1, "data": [{"id": "x"}]}')
    with pytest.raises(msgspec.ValidationError, match=r"\$\.customData\[0\]\.value"):
        decode_customer(b'{"id": 1, "customData": [{"property": "p", "value": [1]}]}')
    with pytest.raises(msgspec.ValidationError, match=r"\$\.firstSeen"):
        decode_customer(b'{"id": 1, "firstSeen": true}')


def test_not_json_is_a_decode_error() -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_page(b'{"total": 1, "data": [')


def test_a_page_needs_total_and_data() -> None:
    with pytest.raises(msgspec.ValidationError, match="total"):
        decode_page(b'{"data": []}')
    with pytest.raises(msgspec.ValidationError, match="data"):
        decode_page(b'{"total": 0}')


def test_unknown_fields_are_ignored() -> None:
    body = _customer(
        createdFrom="widget",
        integrationId=42,
        location={"regionCode": None, "countryCode": "US", "city": None, "zip": "90001"},
        device={"id": None, "browser": {"name": "x"}},
        tags=[{"name": "VIP", "color": "#fff", "id": 3}],
    )
    customer = decode_customer(body)
    assert customer.location == Location(country_code="US")
    assert customer.device == Device()
    assert customer.tags == [Tag("VIP", "#fff")]
    page = decode_page(b'{"total": 0, "data": [], "meta": {"total": 0}}')
    assert page == CustomersPage(total=0, data=[])


def test_missing_fields_take_defaults() -> None:
    customer = decode_customer(b'{"id": 7}')
    assert customer == Customer(id=7)
    assert customer.name is None
    assert customer.location is None
    assert customer.unsubscribed is False
    assert customer.blocked is False
    assert customer.tags == []
    assert customer.custom_data == []


def test_default_lists_are_not_shared() -> None:
    one, two = Customer(id=1), Customer(id=2)
    one.tags.append(Tag("x"))
    assert two.tags == []


def test_encode_writes_the_api_shape() -> None:
    customer = decode_customer(
        _customer(
            userId="u",
            firstSeen="1588603952",
            lastSeen=1588603953.0,
            customData={"Role": "admin", "n": 2},
            device=None,
            location={"regionCode": "CA", "countryCode": "US", "city": None},
        )
    )
    wire = json.loads(encode_customer(customer))
    assert wire["userId"] == "u"
    assert wire["firstSeen"] == 1588603952
    assert wire["lastSeen"] == 1588603953
    assert type(wire["lastSeen"]) is int
    assert wire["customData"] == [
        {"property": "Role", "value": "admin"},
        {"property": "n", "value": 2},
    ]
    assert wire["location"] == {"regionCode": "CA", "countryCode": "US", "city": None}
    assert "user_id" not in wire
    assert msgspec.json.encode(customer) == encode_customer(customer)


def test_the_vendor_page_round_trips() -> None:
    page = decode_page(VENDOR_PAGE)
    for customer in page.data:
        assert decode_customer(encode_customer(customer)) == customer
    assert decode_page(msgspec.json.encode(page)) == page


def test_direct_construction_normalises_too() -> None:
    customer = Customer(id=1, custom_data={"a": 1}, first_seen="12")  # type: ignore[arg-type]  # the wire variants, on purpose
    assert customer.custom_data == [CustomDataItem("a", 1)]
    assert customer.first_seen == 12


def test_customers_pickle() -> None:
    customer = decode_page(VENDOR_PAGE).data[0]
    assert pickle.loads(pickle.dumps(customer)) == customer  # noqa: S301 -- our own bytes


def test_error_bodies() -> None:
    body = (
        b'{"errors": [{"code": "invalid_request", "message": "bad"},'
        b' {"code": "x", "field": "limit", "extra": 1}]}'
    )
    assert decode_error_body(body) == ErrorBody(
        errors=[ErrorEntry("invalid_request", "bad"), ErrorEntry(code="x", field="limit")]
    )
    assert decode_error_body(b"{}") == ErrorBody()


scalars = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)


@given(st.dictionaries(st.text(max_size=20), scalars, max_size=15))
def test_any_custom_data_object_maps_to_the_equivalent_list(data: dict[str, Scalar]) -> None:
    as_object = decode_customer(msgspec.json.encode({"id": 1, "customData": data}))
    expected = [CustomDataItem(key, value) for key, value in data.items()]
    assert as_object.custom_data == expected
    as_list = decode_customer(
        msgspec.json.encode(
            {"id": 1, "customData": [{"property": k, "value": v} for k, v in data.items()]}
        )
    )
    assert as_list == as_object


@given(st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1)))
def test_any_int_timestamp_survives_the_string_form(seconds: int | None) -> None:
    as_string = None if seconds is None else str(seconds)
    customer = decode_customer(msgspec.json.encode({"id": 1, "firstSeen": as_string}))
    assert customer.first_seen == seconds
    assert decode_customer(encode_customer(customer)).first_seen == seconds
