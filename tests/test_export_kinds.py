"""``helpcrunch-async export chats|messages|agents|departments`` and search: real subprocesses.

Each kind is exported from the emulator and compared with the emulator's own
truth: the same records, in the server's order, in JSONL and in CSV.
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING, Any

import pytest
from export_fixtures import SECRET_KEY, checkpoint, export_args, jsonl_records, run_cli

from helpcrunch_async._export.forms import CSV_FORMS
from helpcrunch_async.testing import Account, Faults

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator

pytestmark = pytest.mark.slow

CHATS = 60


@pytest.fixture
def account(helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]) -> ThreadedEmulator:
    return helpcrunch_emulator_factory(
        customers=300,
        chats=CHATS,
        seed=5,
        api_key=SECRET_KEY,
        account=Account(agents=140, departments=120),
    )


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def expected_messages(emulator: ThreadedEmulator, chats: list[int]) -> list[int]:
    return [m["id"] for chat in chats for m in emulator.truth_messages(chat)]


def test_chats_in_the_servers_order_in_jsonl_and_csv(
    tmp_path: Path, account: ThreadedEmulator
) -> None:
    expected = account.expected_chat_ids("chats.createdAt", "asc")
    out = tmp_path / "chats.jsonl"
    done = run_cli(*export_args(out, account.base_url, kind="chats"))
    assert done.returncode == 0, done.stderr
    assert f"complete: {CHATS} chats" in done.stderr
    records = jsonl_records(out)
    assert [r["id"] for r in records] == expected
    assert records[0].keys() >= {"customer", "assignee", "agents", "createdAt", "status"}

    table = tmp_path / "chats.csv"
    done = run_cli(*export_args(table, account.base_url, "--order", "desc", kind="chats"))
    assert done.returncode == 0, done.stderr
    rows = csv_rows(table)
    assert tuple(rows[0]) == CSV_FORMS["chats"].columns
    assert [int(r["id"]) for r in rows] == expected[::-1]


def test_messages_chat_by_chat_each_newest_first_with_the_chat_id(
    tmp_path: Path, account: ThreadedEmulator
) -> None:
    chats = account.expected_chat_ids("chats.createdAt", "asc")
    out = tmp_path / "messages.jsonl"
    done = run_cli(*export_args(out, account.base_url, kind="messages"))
    assert done.returncode == 0, done.stderr
    records = jsonl_records(out)
    assert [r["id"] for r in records] == expected_messages(account, chats)
    by_id = {m["id"]: chat for chat in chats for m in account.truth_messages(chat)}
    assert all(r["chat"] == by_id[r["id"]] for r in records)
    assert out.with_name("messages.jsonl.chats").read_text() == "".join(f"{c}\n" for c in chats)
    saved = checkpoint(out)
    assert saved["complete"] is True
    assert saved["mark"]["position"] == CHATS
    assert saved["chats"]["count"] == CHATS
    assert f"chats done: {CHATS} of {CHATS}" in done.stderr

    table = tmp_path / "messages.csv"
    done = run_cli(*export_args(table, account.base_url, kind="messages"))
    assert done.returncode == 0, done.stderr
    rows = csv_rows(table)
    assert [int(r["id"]) for r in rows] == [r["id"] for r in records]
    assert [int(r["chat"]) for r in rows] == [r["chat"] for r in records]


def test_messages_of_the_chats_a_file_names_in_its_order(
    tmp_path: Path, account: ThreadedEmulator
) -> None:
    chats = account.expected_chat_ids("chats.createdAt", "asc")
    chosen = [chats[7], chats[2], chats[40]]
    ids = tmp_path / "ids.txt"
    # A comment, a repeat and a chat that does not exist (a 404: skipped and counted).
    ids.write_text(f"# three chats\n{chosen[0]}\n{chosen[1]}\n{chosen[0]}\n999999\n{chosen[2]}\n")
    out = tmp_path / "some.jsonl"
    done = run_cli(*export_args(out, account.base_url, "--chats", str(ids), kind="messages"))
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in jsonl_records(out)] == expected_messages(account, chosen)
    assert "1 deleted meanwhile and not written (0 of them while" in done.stderr
    # No chat listing: one request per small chat, none for the list.
    paths = {entry.path for entry in account.log}
    assert not any(path.endswith("/chats") for path in paths)

    ids.write_text(f"{chosen[1]}\n")
    refused = run_cli(
        *export_args(out, account.base_url, "--chats", str(ids), "--resume", kind="messages")
    )
    assert refused.returncode == 2
    assert "--chats" in refused.stderr


def test_a_chat_deleted_while_its_messages_are_read_is_absent_not_half_written(
    tmp_path: Path, helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]
) -> None:
    emulator = helpcrunch_emulator_factory(
        customers=20,
        chats=8,
        seed=4,
        api_key=SECRET_KEY,
        latency=0.05,
        account=Account(messages_per_chat=200),
    )
    chats = emulator.expected_chat_ids("chats.createdAt", "asc")
    truth = {chat: [m["id"] for m in emulator.truth_messages(chat)] for chat in chats}
    big = next(chat for chat in chats if len(truth[chat]) > 250)  # three pages
    # With latency, the chat's first page is handed out before its second answers 404.
    emulator.configure(vanishing_chats=frozenset({big}))
    out = tmp_path / "messages.jsonl"
    done = run_cli(*export_args(out, emulator.base_url, kind="messages"))
    assert done.returncode == 0, done.stderr
    written = [r["id"] for r in jsonl_records(out)]
    assert written == [i for chat in chats if chat != big for i in truth[chat]]
    assert "1 deleted meanwhile and not written (1 of them while" in done.stderr
    saved = checkpoint(out)
    assert saved["complete"] is True
    assert saved["mark"]["position"] == len(chats)


@pytest.mark.parametrize(
    ("kind", "truth"),
    [("agents", "truth_agents"), ("departments", "truth_departments")],
)
def test_agents_and_departments(
    tmp_path: Path, account: ThreadedEmulator, kind: str, truth: str
) -> None:
    expected: list[dict[str, Any]] = getattr(account, truth)()
    out = tmp_path / f"{kind}.jsonl"
    done = run_cli(*export_args(out, account.base_url, kind=kind))
    assert done.returncode == 0, done.stderr
    assert jsonl_records(out) == expected
    table = tmp_path / f"{kind}.csv"
    assert run_cli(*export_args(table, account.base_url, kind=kind)).returncode == 0
    rows = csv_rows(table)
    assert tuple(rows[0]) == CSV_FORMS[kind].columns
    assert [int(r["id"]) for r in rows] == [r["id"] for r in expected]


# --- search -------------------------------------------------------------------------------


def test_customer_search_with_two_filters_joined_by_or(
    tmp_path: Path, account: ThreadedEmulator
) -> None:
    customers = account.truth_customers()
    seen = sorted(c["lastSeen"] for c in customers if c["lastSeen"] is not None)
    since = seen[len(seen) * 3 // 4]
    first = customers[0]["id"]
    out = tmp_path / "found.jsonl"
    filters = [*("--filter", "customers.lastSeen", ">=", str(since))]
    filters += ["--filter", "customers.id", "=", str(first), "--comparison", "OR"]
    done = run_cli(*export_args(out, account.base_url, *filters))
    assert done.returncode == 0, done.stderr
    expected = {c["id"] for c in customers if (c["lastSeen"] or 0) >= since or c["id"] == first}
    in_order = [i for i in account.expected_ids("customers.firstSeen", "asc") if i in expected]
    assert [r["id"] for r in jsonl_records(out)] == in_order
    assert all(entry.method == "POST" for entry in account.log)

    refused = run_cli(*export_args(out, account.base_url, *filters[:4], "--resume"))
    assert refused.returncode == 2
    assert "--filter" in refused.stderr


def test_chat_search_by_an_iso_date(tmp_path: Path, account: ThreadedEmulator) -> None:
    chats = account.truth_chats()
    created = sorted(c["createdAt"] for c in chats)
    since = created[len(created) // 2]
    import datetime as dt  # noqa: PLC0415 -- only here

    moment = dt.datetime.fromtimestamp(since, tz=dt.UTC).isoformat()
    out = tmp_path / "recent.csv"
    done = run_cli(
        *export_args(
            out, account.base_url, "--filter", "chats.createdAt", ">=", moment, kind="chats"
        )
    )
    assert done.returncode == 0, done.stderr
    rows = csv_rows(out)
    assert {int(r["id"]) for r in rows} == {c["id"] for c in chats if c["createdAt"] >= since}


@pytest.mark.parametrize(
    ("kind", "condition", "words"),
    [
        ("customers", ("customers.nope", "=", "1"), "customers.nope"),
        ("customers", ("customers.email", ">", "x"), "customers.email"),
        ("customers", ("customers.lastSeen", ">=", "yesterday"), "customers.lastSeen"),
        ("customers", ("customers.id", "=", "abc"), "customers.id"),
        ("chats", ("customers.email", "~", "gmail"), "customers.email"),
        ("customers", ("customers.tagsData", "!=", "Lead"), "customers.tagsData"),
    ],
)
def test_a_bad_filter_is_refused_before_any_request(
    tmp_path: Path,
    account: ThreadedEmulator,
    kind: str,
    condition: tuple[str, str, str],
    words: str,
) -> None:
    out = tmp_path / "x.jsonl"
    done = run_cli(*export_args(out, account.base_url, "--filter", *condition, kind=kind))
    assert done.returncode == 2, done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr
    assert account.log == []
    assert not out.exists()


def test_only_searchable_kinds_take_filters(tmp_path: Path, account: ThreadedEmulator) -> None:
    out = tmp_path / "x.jsonl"
    done = run_cli(
        *export_args(out, account.base_url, "--filter", "chats.status", "=", "3", kind="agents")
    )
    assert done.returncode == 2
    assert "unrecognized arguments" in done.stderr


def test_a_resumed_messages_export_refuses_a_changed_chat_list(
    tmp_path: Path, helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]
) -> None:
    emulator = helpcrunch_emulator_factory(
        customers=50, chats=CHATS, seed=5, api_key=SECRET_KEY, faults=Faults(fail={12: "400"})
    )
    out = tmp_path / "messages.jsonl"
    args = export_args(out, emulator.base_url, "--concurrency", "1", kind="messages")
    first = run_cli(*args)
    assert first.returncode == 4, first.stderr
    assert checkpoint(out)["chats"]["count"] == CHATS
    chat_list = out.with_name("messages.jsonl.chats")
    ids = chat_list.read_text().split()
    chat_list.write_text("".join(f"{i}\n" for i in reversed(ids)))
    before = out.read_bytes()

    refused = run_cli(*args, "--resume")
    assert refused.returncode == 2, refused.stderr
    assert "not the one this export made" in refused.stderr
    assert out.read_bytes() == before
