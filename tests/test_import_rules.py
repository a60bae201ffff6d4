"""The import's pure decisions, tested directly: row checks, lookups, the diff, the checkpoint.

Hypothesis draws customers as the API sends them: each one's JSONL line and CSV
row (the export's own encoders) must check into a row that the diff finds
unchanged against that very customer, which is what makes an export imported
into its own account write nothing.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async._core import import_journal as journal
from helpcrunch_async._core.cells import CSV_COLUMNS, csv_cells
from helpcrunch_async._core.import_lookup import START_KEYS, batches, by_key, next_offset, smaller
from helpcrunch_async._core.import_plan import decide, same_value
from helpcrunch_async._core.import_rows import (
    KeyTracker,
    Rejected,
    Row,
    header_columns,
    row_from_cells,
    row_from_json,
)
from helpcrunch_async._errors import InvalidParameterError
from helpcrunch_async._export.checkpoint import ExportRefusedError
from helpcrunch_async._models.customers import Customer, decode_customer

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
customers = st.fixed_dictionaries(
    {
        "id": st.integers(1, 10**9),
        "name": st.none() | text,
        "email": st.none() | text,
        "userId": text.filter(bool),
        "company": st.none() | text,
        "phone": st.none() | text,
        "notes": st.none() | text,
        "firstSeen": st.none() | st.integers(0, 2**31),
        "tags": st.lists(
            st.fixed_dictionaries({"name": text.filter(str.strip), "color": st.just("#fff")}),
            max_size=3,
        ),
        "customData": st.dictionaries(text.filter(bool), scalar, max_size=4).map(
            lambda d: [{"property": k, "value": v} for k, v in d.items()]
        ),
    }
)


def _csv_row(raw: dict[str, Any], *, guard: bool) -> list[str]:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(csv_cells(raw, formula_guard=guard))
    return next(csv.reader(io.StringIO(buffer.getvalue())))


@given(customers, st.booleans())
def test_an_exported_customer_checks_into_a_row_that_changes_nothing(
    raw: dict[str, Any], guard: bool
) -> None:
    customer = decode_customer(msgspec.json.encode(raw))
    from_json = row_from_json(7, msgspec.json.encode(raw), "user_id")
    from_csv = row_from_cells(7, CSV_COLUMNS, _csv_row(raw, guard=guard), "user_id", guarded=guard)
    for row in (from_json, from_csv):
        assert isinstance(row, Row), row
        assert row.line == 7
        assert row.key == raw["userId"]
        decision = decide(row, [customer], "upsert")
        assert decision.action == "unchanged", decision
        assert decision.counted == "unchanged"


def test_blank_lines_are_skipped_and_bad_ones_named() -> None:
    assert row_from_json(1, b"  \n", "user_id") is None
    assert isinstance(row_from_json(2, b"[1]", "user_id"), Rejected)
    bad = row_from_json(3, b'{"userId": "u", "customData": [{"value": 1}]}', "user_id")
    assert isinstance(bad, Rejected)
    assert "property" in bad.reason
    no_key = row_from_json(4, b'{"userId": "", "email": "a@b"}', "user_id")
    assert isinstance(no_key, Rejected)
    assert "no userId" in no_key.reason
    by_email = row_from_json(5, b'{"email": "a@b", "customData": {"Plan": "Pro"}}', "email")
    assert by_email == Row(5, "a@b", {"email": "a@b", "custom_data": {"Plan": "Pro"}})


def test_csv_empty_cells_are_not_given_and_rows_of_another_width_rejected() -> None:
    columns = header_columns(["\ufeffuserId", "name", "tags"])
    assert columns == ("userId", "name", "tags")
    row = row_from_cells(2, columns, ["u1", "", "'=a|b\\|c"], "user_id", guarded=True)
    assert row == Row(2, "u1", {"user_id": "u1", "tags": ["=a", "b|c"]})
    short = row_from_cells(3, columns, ["u1"], "user_id", guarded=True)
    assert isinstance(short, Rejected)
    assert "1 cells" in short.reason
    with pytest.raises(InvalidParameterError, match="shoeSize"):
        header_columns(["userId", "shoeSize"])
    with pytest.raises(InvalidParameterError, match="more than once"):
        header_columns(["userId", "userId"])


def test_a_repeated_key_is_rejected_naming_its_first_line() -> None:
    keys = KeyTracker()
    assert keys.check(Row(1, "k", {})) == Row(1, "k", {})
    repeat = keys.check(Row(4, "k", {}))
    assert isinstance(repeat, Rejected)
    assert "of line 1" in repeat.reason


def _customer(**fields: Any) -> Customer:
    return msgspec.convert({"id": 5, **fields}, Customer)


def test_the_diff_sends_only_what_differs_and_adds_missing_tags() -> None:
    have = _customer(
        userId="u", name="A", tags=[{"name": "Old"}], customData=[{"property": "P", "value": 1}]
    )
    row = Row(
        1,
        "u",
        {
            "user_id": "u",
            "name": "B",
            "tags": ["Old", "New", "New"],
            "custom_data": {"P": 1, "Q": True},
        },
    )
    decision = decide(row, [have], "upsert")
    assert decision.action == "update"
    assert decision.fields == {"name": "B", "custom_data": {"Q": True}}
    assert decision.add_tags == ["New"]
    assert decide(row, [], "update").action == "reject"
    assert decide(row, [], "create").action == "create"
    assert decide(row, [have, _customer(id=6)], "upsert").action == "reject"
    assert decide(row, [have], "create").action == "reject"
    # Rule 5: a create that landed before a crash counts as created, once.
    landed = decide(row, [have], "create", planned="create")
    assert (landed.action, landed.counted) == ("update", "create")
    same = Row(1, "u", {"user_id": "u", "name": "A"})
    assert decide(same, [have], "upsert", planned="update").counted == "update"


row_fields = st.fixed_dictionaries(
    {"user_id": st.just("u")},
    optional={
        "name": st.none() | text,
        "notes": st.none() | text,
        "company": st.none() | text,
        "tags": st.lists(text.filter(str.strip), max_size=3),
        "custom_data": st.dictionaries(text.filter(bool), scalar, max_size=3),
    },
)


def _applied(raw: dict[str, Any], decision: Any) -> dict[str, Any]:
    """What the account holds after a decision's update: fields set, data merged, tags added."""
    merged = dict(raw)
    for name, value in decision.fields.items():
        if name == "custom_data":
            have = {i["property"]: i["value"] for i in merged["customData"]}
            have.update(value)
            merged["customData"] = [{"property": k, "value": v} for k, v in have.items()]
        else:
            merged[{"user_id": "userId"}.get(name, name)] = value
    merged["tags"] = [*merged["tags"], *({"name": n} for n in decision.add_tags)]
    return merged


@given(customers.map(lambda c: {**c, "userId": "u"}), row_fields)
def test_a_row_applied_once_is_unchanged_the_second_time(
    raw: dict[str, Any], fields: dict[str, Any]
) -> None:
    row = Row(1, "u", fields)
    first = decide(row, [decode_customer(msgspec.json.encode(raw))], "upsert")
    assert first.action in ("update", "unchanged")
    after = decode_customer(msgspec.json.encode(_applied(raw, first)))
    again = decide(row, [after], "upsert")
    assert again.action == "unchanged", again
    # Nothing the row does not name is sent: never a replace.
    assert set(first.fields) <= set(fields) - {"tags"}


@given(scalar, scalar)
def test_values_compare_by_type(a: object, b: object) -> None:
    expected = msgspec.json.encode(a) == msgspec.json.encode(b) or (
        isinstance(a, int | float)
        and isinstance(b, int | float)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
        and a == b
    )
    assert same_value(a, b) == expected
    assert not same_value(1, True)  # noqa: FBT003 -- the bool is the point
    assert not same_value(1, "1")


@given(st.lists(st.text(max_size=3), max_size=300), st.integers(1, 150))
def test_keys_split_into_searches_of_at_most_the_size(keys: list[str], size: int) -> None:
    parts = batches(keys, size)
    assert [key for part in parts for key in part] == keys
    assert all(1 <= len(part) <= size for part in parts)


def test_a_refused_search_halves_the_size_down_to_one_key() -> None:
    sizes = [START_KEYS]
    while (less := smaller(sizes[-1], sizes[-1])) is not None:
        sizes.append(less)
    assert sizes == [100, 50, 25, 12, 6, 3, 1]
    assert smaller(100, 7) == 3  # a short last search halves what it held
    assert next_offset(0, 100, 250) == 100
    assert next_offset(200, 50, 250) is None
    assert next_offset(0, 0, 250) is None


def test_a_key_matches_only_customers_that_carry_it_exactly() -> None:
    found = [_customer(id=1, userId="a"), _customer(id=2, userId="A"), _customer(id=1, userId="a")]
    assert {k: [c.id for c in v] for k, v in by_key(["a", "b"], found, "user_id").items()} == {
        "a": [1],
        "b": [],
    }


SETTINGS = journal.ImportSettings(
    input_sha256="0" * 64,
    input_bytes=10,
    format="jsonl",
    match="user_id",
    mode="upsert",
    base_url="http://127.0.0.1:1/v1",
)


def test_the_checkpoint_plans_then_settles_and_keeps_a_crashed_plan() -> None:
    state = journal.start(SETTINGS)
    state = journal.plan(
        state, 10, {3: "create", 4: "update", 5: "unchanged", 6: "reject", 8: "create"}
    )
    assert state.pending == journal.Pending(
        end_line=10, plan={3: "create", 4: "update", 8: "create"}
    )
    assert journal.planned_for(state, 3) == "create"
    assert journal.planned_for(state, 5) is None
    # Resumed with a smaller window: the crashed plan survives past its end.
    state = journal.plan(state, 4, {3: "update", 4: "unchanged"})
    assert journal.planned_for(state, 3) == "create"
    state = journal.settle(state, 4, journal.Counts(created=1, updated=1), rejects_bytes=0)
    assert state.lines_done == 4
    assert state.pending == journal.Pending(end_line=10, plan={8: "create"})
    assert journal.planned_for(state, 8) == "create"
    state = journal.settle(state, 10, journal.Counts(rejected=1), rejects_bytes=40)
    assert (state.counts.created, state.counts.rejected, state.pending) == (1, 1, None)
    assert journal.finish(state).complete


def test_a_resume_with_other_settings_or_input_is_refused() -> None:
    saved = journal.start(SETTINGS)
    journal.check_resume(saved, SETTINGS, Path("x"))
    other = msgspec.structs.replace(SETTINGS, mode="create")
    with pytest.raises(ExportRefusedError, match="--mode upsert"):
        journal.check_resume(saved, other, Path("x"))
    changed = msgspec.structs.replace(SETTINGS, input_bytes=11)
    with pytest.raises(ExportRefusedError, match="input changed"):
        journal.check_resume(saved, changed, Path("x"))
