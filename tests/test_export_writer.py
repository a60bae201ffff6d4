"""The export writer: crash-safe batches, the checkpoint, resume, and the CSV form."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import helpcrunch_async
from helpcrunch_async._core.cells import (
    CSV_COLUMNS,
    csv_cells,
    join_tags,
    split_tags,
    unguard_cell,
)
from helpcrunch_async._export.checkpoint import (
    ExportRefusedError,
    ExportSettings,
    checkpoint_path,
    read_checkpoint,
)
from helpcrunch_async._export.encoders import CsvEncoder
from helpcrunch_async._export.forms import CSV_FORMS
from helpcrunch_async._export.framing import count_records
from helpcrunch_async._export.writer import ExportWriter
from helpcrunch_async._version import VERSION

if TYPE_CHECKING:
    from pathlib import Path

JSONL = ExportSettings(
    format="jsonl",
    sort="customers.firstSeen",
    order="asc",
    page_size=100,
    base_url="http://127.0.0.1:1/v1",
)
CSV = msgspec.structs.replace(JSONL, format="csv")


def customer(i: int, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": i,
        "name": f"Customer {i}",
        "email": f"c{i}@example.com",
        "userId": None,
        "company": None,
        "phone": "+1 555 0100",
        "firstSeen": 1593068924 + i,
        "lastSeen": None,
        "location": {"regionCode": "40", "countryCode": "RO", "city": "Cluj-Napoca"},
        "device": None,
        "unsubscribed": False,
        "blocked": True,
        "source": None,
        "referer": None,
        "locale": "ro",
        "notes": None,
        "lastPage": None,
        "tags": [{"name": "Lead", "color": "#eb5a46"}, {"name": "Paid", "color": "#61bd4f"}],
        "customData": [{"property": "Plan", "value": "Premium"}, {"property": "n", "value": 3}],
    }
    base.update(extra)
    return base


def write_all(out: Path, count: int, *, start: int = 0, batch: int = 7) -> None:
    writer = ExportWriter.create(out, JSONL, overwrite=True, batch_records=batch)
    for i in range(start, count):
        writer.write(customer(i))
    writer.finish()


# --- JSONL and the checkpoint ------------------------------------------------------


def test_jsonl_lines_are_the_customers_and_the_checkpoint_vouches_for_the_file(
    tmp_path: Path,
) -> None:
    out = tmp_path / "c.jsonl"
    write_all(out, 25)
    lines = out.read_bytes().splitlines()
    assert [json.loads(line)["id"] for line in lines] == list(range(25))
    assert json.loads(lines[3]) == customer(3)
    cp = read_checkpoint(checkpoint_path(out))
    assert cp is not None
    assert (cp.records, cp.bytes, cp.complete) == (25, out.stat().st_size, True)
    assert cp.settings == JSONL
    # The one version source: the package metadata.
    assert cp.tool_version == helpcrunch_async.__version__ == VERSION
    assert not list(tmp_path.glob("*.tmp"))


def test_a_batch_reaches_the_checkpoint_only_when_committed(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    writer = ExportWriter.create(out, JSONL, overwrite=False, batch_records=5, batch_seconds=60)
    for i in range(4):
        writer.write(customer(i))
    cp = read_checkpoint(checkpoint_path(out))
    assert cp is not None
    assert (cp.records, cp.bytes) == (0, 0)
    assert out.stat().st_size == 0
    writer.write(customer(4))
    cp = read_checkpoint(checkpoint_path(out))
    assert cp is not None
    assert (cp.records, cp.bytes) == (5, out.stat().st_size)
    writer.write(customer(5))
    writer.close()
    cp = read_checkpoint(checkpoint_path(out))
    assert cp is not None
    assert (cp.records, cp.complete) == (6, False)


def test_an_existing_file_is_refused_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    out.write_text("precious\n")
    with pytest.raises(ExportRefusedError, match=r"--resume .* --overwrite"):
        ExportWriter.create(out, JSONL, overwrite=False)
    assert out.read_text() == "precious\n"


def test_overwrite_starts_from_an_empty_file_and_a_fresh_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    write_all(out, 30)
    write_all(out, 3)
    assert len(out.read_bytes().splitlines()) == 3
    cp = read_checkpoint(checkpoint_path(out))
    assert cp is not None
    assert cp.records == 3


def test_resume_cuts_a_torn_tail_and_continues_to_the_same_bytes(tmp_path: Path) -> None:
    whole = tmp_path / "whole.jsonl"
    write_all(whole, 40)

    out = tmp_path / "c.jsonl"
    writer = ExportWriter.create(out, JSONL, overwrite=False, batch_records=10, batch_seconds=60)
    for i in range(23):
        writer.write(customer(i))
    # A crash: the process dies (its file closes, the batch of three is never
    # committed), and half a record reached the disk.
    writer._file.close()
    with out.open("ab") as f:
        f.write(b'{"id": 20, "name": "torn')

    resumed = ExportWriter.resume(out, JSONL, batch_records=10)
    assert resumed.records == 20
    assert out.stat().st_size == resumed.checkpoint.bytes
    for i in range(resumed.records, 40):
        resumed.write(customer(i))
    resumed.finish()
    assert out.read_bytes() == whole.read_bytes()


def test_csv_resume_does_not_repeat_the_header(tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    writer = ExportWriter.create(out, CSV, overwrite=False, batch_records=2)
    for i in range(3):
        writer.write(customer(i))
    writer.close()
    resumed = ExportWriter.resume(out, CSV)
    for i in range(resumed.records, 5):
        resumed.write(customer(i))
    resumed.finish()
    rows = list(csv.reader(io.StringIO(out.read_text("utf-8-sig"))))
    assert rows[0] == list(CSV_COLUMNS)
    assert [row[0] for row in rows[1:]] == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize(
    ("change", "option"),
    [
        ({"sort": "customers.lastSeen"}, "--sort"),
        ({"order": "desc"}, "--order"),
        ({"format": "csv"}, "--format"),
        ({"base_url": "http://127.0.0.1:2/v1"}, "--base-url"),
        ({"sort": None}, "--sort"),
        ({"formula_guard": False}, "--csv-raw"),
        ({"excel": True}, "--excel"),
        ({"filters": (("customers.email", "~", "gmail"),)}, "--filter"),
        ({"chats_sha256": "ab" * 32}, "--chats"),
    ],
)
def test_resume_with_other_settings_is_refused_by_name(
    tmp_path: Path, change: dict[str, Any], option: str
) -> None:
    out = tmp_path / "c.jsonl"
    write_all(out, 5)
    before = out.read_bytes()
    with pytest.raises(ExportRefusedError, match=f"exported (with|without|for) .*{option}"):
        ExportWriter.resume(out, msgspec.structs.replace(JSONL, **change))
    assert out.read_bytes() == before


def test_resume_without_a_checkpoint_refuses_an_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    out.write_text("{}\n")
    with pytest.raises(ExportRefusedError, match="no checkpoint"):
        ExportWriter.resume(out, JSONL)


def test_resume_with_nothing_there_starts_a_new_export(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    writer = ExportWriter.resume(out, JSONL)
    writer.write(customer(1))
    writer.finish()
    assert len(out.read_bytes().splitlines()) == 1


def test_resume_refuses_a_file_shorter_than_its_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    write_all(out, 5)
    out.write_bytes(out.read_bytes()[:10])
    with pytest.raises(ExportRefusedError, match="changed outside the export"):
        ExportWriter.resume(out, JSONL)


def test_a_damaged_checkpoint_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    write_all(out, 5)
    checkpoint_path(out).write_text("{not json")
    with pytest.raises(ExportRefusedError, match="unreadable"):
        ExportWriter.resume(out, JSONL)


def test_two_writers_cannot_hold_one_file(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    first = ExportWriter.create(out, JSONL, overwrite=False)
    try:
        with pytest.raises(ExportRefusedError, match="another export"):
            ExportWriter.resume(out, JSONL)
    finally:
        first.close()


def test_the_checkpoint_never_holds_more_than_its_fields(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    write_all(out, 2)
    saved = json.loads(checkpoint_path(out).read_text())
    assert set(saved) == {
        "version",
        "tool_version",
        "settings",
        "records",
        "bytes",
        "complete",
        "device",
        "inode",
        "mark",
        "chats",
    }
    assert set(saved["settings"]) == {
        "kind",
        "format",
        "sort",
        "order",
        "page_size",
        "base_url",
        "formula_guard",
        "formula_rules",
        "excel",
        "filters",
        "comparison",
        "chats_sha256",
    }


# --- CSV cells ---------------------------------------------------------------------


def test_csv_cells_flatten_nested_objects_and_render_nulls_empty() -> None:
    cells = dict(zip(CSV_COLUMNS, csv_cells(customer(7)), strict=True))
    assert cells["id"] == "7"
    assert cells["firstSeen"] == "1593068931"
    assert cells["firstSeenUtc"] == "2020-06-25T07:08:51Z"
    assert cells["lastSeen"] == cells["lastSeenUtc"] == ""
    assert cells["location.city"] == "Cluj-Napoca"
    assert cells["device.id"] == cells["device.userAgent"] == ""
    assert (cells["unsubscribed"], cells["blocked"]) == ("false", "true")
    assert cells["tags"] == "Lead|Paid"
    assert json.loads(cells["customData"]) == {"Plan": "Premium", "n": 3}
    assert cells["phone"] == "+1 555 0100"  # a phone number is not a formula


def test_custom_data_as_an_object_gives_the_same_cell() -> None:
    as_list = csv_cells(customer(1))
    as_object = csv_cells(customer(1, customData={"Plan": "Premium", "n": 3}))
    assert as_list == as_object


def test_formula_guard_can_be_turned_off() -> None:
    nasty = customer(1, name='=HYPERLINK("http://x")')
    assert csv_cells(nasty)[1] == '\'=HYPERLINK("http://x")'
    assert csv_cells(nasty, formula_guard=False)[1] == '=HYPERLINK("http://x")'


nasty_text = st.text(
    st.characters(codec="utf-8"),
    max_size=30,
) | st.sampled_from(["", ",", '"', '""', "\n", "\r\n", "\r", "'=1", "=1+1", "-", "|", "\\", "ü;é"])


@settings(max_examples=200, deadline=None)
@given(
    name=nasty_text,
    notes=nasty_text,
    # A lone empty tag name reads back as no tags: the one ambiguity, documented.
    tags=st.lists(nasty_text, max_size=4).filter(lambda names: names != [""]),
    prop=nasty_text,
    value=st.none() | st.booleans() | st.integers() | nasty_text,
)
def test_csv_round_trips_nasty_strings(
    name: str, notes: str, tags: list[str], prop: str, value: str | int | bool | None
) -> None:
    record = customer(
        1,
        name=name,
        notes=notes,
        tags=[{"name": t, "color": None} for t in tags],
        customData=[{"property": prop, "value": value}],
    )
    encoder = CsvEncoder()
    text = (encoder.header() + encoder.encode(record)).decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(text, newline="")))
    cells = dict(zip(header, row, strict=True))
    assert unguard_cell(cells["name"]) == name
    assert unguard_cell(cells["notes"]) == notes
    assert split_tags(unguard_cell(cells["tags"])) == tags
    assert json.loads(cells["customData"]) == {prop: value}


@given(st.lists(nasty_text, min_size=1, max_size=5).filter(lambda names: names != [""]))
def test_join_and_split_tags_are_inverse(names: list[str]) -> None:
    assert split_tags(join_tags(names)) == names


# --- framing: whole records in a file's first bytes ---------------------------------------


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(st.lists(nasty_text, min_size=1, max_size=3), min_size=1, max_size=5),
    cut=st.integers(min_value=0),
    size=st.integers(min_value=1, max_value=9),
)
def test_csv_framing_finds_record_ends_outside_quotes(
    rows: list[list[str]], cut: int, size: int
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    ends = [0]
    for row in rows:
        writer.writerow(row)
        ends.append(len(buffer.getvalue().encode()))
    data = buffer.getvalue().encode()
    cut %= len(data) + 1
    framing = count_records(chunked(data[:cut], size), "csv")
    assert framing.on_boundary == (cut in ends)
    if cut in ends:
        assert framing.records == ends.index(cut)


@given(
    count=st.integers(min_value=0, max_value=6),
    cut=st.integers(min_value=0),
    size=st.integers(min_value=1, max_value=9),
)
def test_jsonl_framing_counts_whole_lines(count: int, cut: int, size: int) -> None:
    lines = [msgspec.json.encode(customer(i)) + b"\n" for i in range(count)]
    data = b"".join(lines)
    ends = [sum(len(line) for line in lines[:i]) for i in range(count + 1)]
    cut %= len(data) + 1
    framing = count_records(chunked(data[:cut], size), "jsonl")
    assert framing.on_boundary == (cut in ends)
    if cut in ends:
        assert framing.records == ends.index(cut)


def test_csv_has_no_bom_by_default_and_one_with_excel(tmp_path: Path) -> None:
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    for out, settings_ in ((plain, CSV), (excel, msgspec.structs.replace(CSV, excel=True))):
        writer = ExportWriter.create(out, settings_, overwrite=False)
        writer.write(customer(1))
        writer.finish()
    with plain.open(encoding="utf-8", newline="") as file:
        assert next(csv.DictReader(file))["id"] == "1"
    assert excel.read_bytes() == b"\xef\xbb\xbf" + plain.read_bytes()


def test_resume_of_a_file_with_another_header_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    writer = ExportWriter.create(out, CSV, overwrite=False)
    writer.write(customer(1))
    writer.close()
    data = out.read_bytes()
    with out.open("r+b") as file:
        file.write(data.replace(b"id,", b"ID,", 1)[:10])
    with pytest.raises(ExportRefusedError, match="header"):
        ExportWriter.resume(out, CSV)


# --- grouped exports: resume after the last whole group -----------------------------------


def test_a_grouped_resume_cuts_back_to_the_last_whole_group(tmp_path: Path) -> None:
    out = tmp_path / "m.jsonl"
    writer = ExportWriter.create(out, JSONL, overwrite=False, grouped=True, batch_records=2)
    for i in range(3):
        writer.write(customer(i))
    writer.mark(1)
    # Half of the second group is committed (with the mark), then the run stops.
    writer.write(customer(3))
    writer.write(customer(4))
    writer.close()
    cp = read_checkpoint(checkpoint_path(out))
    assert cp is not None
    assert cp.records == 5
    assert cp.mark is not None
    assert (cp.mark.position, cp.mark.records) == (1, 3)

    resumed = ExportWriter.resume(out, JSONL, grouped=True)
    assert (resumed.records, resumed.position) == (3, 1)
    assert [json.loads(line)["id"] for line in out.read_bytes().splitlines()] == [0, 1, 2]
    for i in range(3, 5):
        resumed.write(customer(i))
    resumed.mark(2)
    resumed.finish()
    assert [json.loads(line)["id"] for line in out.read_bytes().splitlines()] == list(range(5))


def test_groups_without_records_move_the_mark_too(tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    writer = ExportWriter.create(out, CSV, overwrite=False, grouped=True, batch_seconds=0)
    writer.mark(1)
    writer.mark(2)
    writer.close()
    resumed = ExportWriter.resume(out, CSV, grouped=True)
    assert (resumed.records, resumed.position) == (0, 2)
    resumed.close()


def test_a_mark_that_does_not_match_the_file_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "m.jsonl"
    writer = ExportWriter.create(out, JSONL, overwrite=False, grouped=True, batch_records=1)
    for i in range(4):
        writer.write(customer(i))
        writer.mark(i + 1)
    writer.write(customer(4))
    writer.close()
    saved = json.loads(checkpoint_path(out).read_text())
    saved["mark"]["bytes"] -= 3
    checkpoint_path(out).write_text(json.dumps(saved))
    with pytest.raises(ExportRefusedError, match="marks 4 records"):
        ExportWriter.resume(out, JSONL, grouped=True)
    saved["mark"]["bytes"] = saved["bytes"] + 1
    checkpoint_path(out).write_text(json.dumps(saved))
    with pytest.raises(ExportRefusedError, match="lies past its end"):
        ExportWriter.resume(out, JSONL, grouped=True)


def test_a_grouped_checkpoint_is_not_resumed_as_a_plain_one(tmp_path: Path) -> None:
    out = tmp_path / "m.jsonl"
    ExportWriter.create(out, JSONL, overwrite=False, grouped=True).close()
    with pytest.raises(ExportRefusedError, match="not one of this kind"):
        ExportWriter.resume(out, JSONL)


def test_resume_of_another_kind_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    write_all(out, 3)
    with pytest.raises(ExportRefusedError, match="export of customers, not chats"):
        ExportWriter.resume(out, msgspec.structs.replace(JSONL, kind="chats"))


# --- the CSV forms of the other kinds -------------------------------------------------------

CHAT: dict[str, Any] = {
    "id": 7340012,
    "closedBy": None,
    "lastCustomerMessageAt": "1700000100",
    "status": "pending",
    "closedAt": None,
    "rating": None,
    "createdAt": 1700000000,
    "lastMessageAt": "1700000200.5",
    "readByAgent": False,
    "readByCustomer": True,
    "createdWith": "customer_message",
    "snoozedUntil": None,
    "lastMessageText": '=1+1, "quoted"\r\nnext line',
    "lastMessageId": 99120,
    "applicationId": 12,
    "lastCommunicatedAgentId": 501,
    "agents": [
        {"id": 501, "name": "Dana", "email": "dana@corp.test", "role": "agent"},
        {"id": 502, "name": "Lee|Ann", "email": None, "role": "admin"},
    ],
    "customer": {"id": 880001, "name": "Ann", "email": "ann@example.org", "userId": None},
    "assignee": {"id": 501, "name": "Dana", "email": "dana@corp.test", "role": "agent"},
    "department": None,
}


def test_chat_cells_flatten_people_and_times() -> None:
    form = CSV_FORMS["chats"]
    cells = dict(zip(form.columns, form.cells(CHAT), strict=True))
    assert cells["id"] == "7340012"
    assert (cells["createdAt"], cells["createdAtUtc"]) == ("1700000000", "2023-11-14T22:13:20Z")
    assert cells["lastCustomerMessageAt"] == "1700000100"
    assert cells["lastMessageAt"] == "1700000200.5"
    assert cells["closedAt"] == cells["closedAtUtc"] == ""
    assert (cells["readByAgent"], cells["readByCustomer"]) == ("false", "true")
    assert cells["customer.email"] == "ann@example.org"
    assert cells["department.id"] == cells["department.name"] == ""
    assert cells["agents.id"] == "501|502"
    assert split_tags(cells["agents.name"]) == ["Dana", "Lee|Ann"]
    assert cells["lastMessageText"].startswith("'=1+1")
    # A single agent object (an old variant) reads like a list of one.
    single = dict(zip(form.columns, form.cells({**CHAT, "agents": CHAT["assignee"]}), strict=True))
    assert single["agents.id"] == "501"


def test_message_agent_and_department_forms() -> None:
    message = {
        "id": 55102,
        "agent": {"id": 501, "name": "Dana", "email": "dana@corp.test", "role": "agent"},
        "type": "message",
        "text": "We shipped it today.",
        "read": False,
        "createdAt": "1594139170.913",
        "updatedAt": None,
        "edited": False,
        "broadcastType": None,
        "chat": 7340012,
        "from": "agent",
    }
    form = CSV_FORMS["messages"]
    cells = dict(zip(form.columns, form.cells(message), strict=True))
    assert (cells["chat"], cells["from"], cells["agent.role"]) == ("7340012", "agent", "agent")
    assert cells["createdAtUtc"] == "2020-07-07T16:26:10Z"
    assert cells["updatedAt"] == ""
    agents = CSV_FORMS["agents"]
    assert agents.columns == ("id", "name", "email", "role")
    departments = CSV_FORMS["departments"]
    department = {"id": 31, "name": "Billing", "agents": [CHAT["assignee"]]}
    assert departments.cells(department) == ("31", "Billing", "501", "Dana")
    assert departments.cells({"id": 32, "name": "Empty", "agents": []}) == ("32", "Empty", "", "")


@pytest.mark.parametrize("kind", ["chats", "messages", "agents", "departments"])
def test_every_form_reads_back_with_the_csv_module(kind: str) -> None:
    form = CSV_FORMS[kind]
    encoder = CsvEncoder(form)
    record = CHAT if kind == "chats" else {"id": 1, "name": "x\r\ny", "text": '"', "agents": []}
    text = (encoder.header() + encoder.encode(record)).decode()
    header, row = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(header) == form.columns
    assert len(row) == len(header)
