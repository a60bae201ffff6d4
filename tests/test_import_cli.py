"""``helpcrunch-async import customers`` over loopback: round trips, rejects, --strict, modes.

The real command runs as a subprocess against the emulator; what it did is read
from the emulator's own request log and account.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from export_fixtures import export_args, run_cli
from import_fixtures import (
    KEY,
    assert_applied_once,
    import_args,
    journal,
    rows,
    seed,
    write_jsonl,
)

from helpcrunch_async._import.command import REJECTED

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator

QUIET = ("--progress", "off")


def _writes(emulator: ThreadedEmulator, since: int) -> list[tuple[str, str]]:
    return [
        (entry.method, entry.path)
        for entry in emulator.log[since:]
        if (entry.method, entry.path) != ("POST", "/v1/customers/search")
    ]


def journal_text(source: Path) -> str:
    return source.with_name(source.name + ".import.checkpoint.json").read_text(encoding="utf-8")


def _rejects(source: Path) -> list[dict[str, Any]]:
    path = source.with_name(source.name + ".rejects.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_an_export_imported_into_its_own_account_writes_nothing(
    suffix: str, helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    emulator = helpcrunch_emulator_factory(customers=0, api_key=KEY)
    seed(emulator, 40)
    out = tmp_path / f"customers.{suffix}"
    exported = run_cli(*export_args(out, emulator.base_url, *QUIET), key=KEY)
    assert exported.returncode == 0, exported.stderr
    before = len(emulator.log)
    done = run_cli(*import_args(out, emulator.base_url, *QUIET), key=KEY)
    assert done.returncode == 0, done.stderr
    assert _writes(emulator, before) == []
    assert len(emulator.log) - before == 1  # 40 keys share one search
    assert journal(out)["counts"] == {"created": 0, "updated": 0, "unchanged": 40, "rejected": 0}
    assert "40 unchanged, 0 rejected" in done.stderr
    assert "1 requests by this run" in done.stderr


def test_rows_are_merged_created_and_a_second_run_writes_nothing(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    emulator = helpcrunch_emulator_factory(customers=0, api_key=KEY)
    seed(emulator, 30)
    records = rows(30, 20)
    source = tmp_path / "rows.jsonl"
    write_jsonl(source, records)
    before = len(emulator.log)
    slow = ("--rate-limit", "20", "--rate-period", "1", "--window", "10")
    progress = ("--progress", "log", "--progress-interval", "0.1")
    done = run_cli(*import_args(source, emulator.base_url, *slow, *progress), key=KEY)
    assert done.returncode == 0, done.stderr
    assert_applied_once(emulator, records)
    # The export's progress renderer: rows done of all, the counts so far, rate and ETA.
    assert "progress: " in done.stderr
    assert " / 50 rows (" in done.stderr
    assert "ETA" in done.stderr
    # The key is never in what the command prints or writes.
    for text in (done.stderr, journal_text(source)):
        assert KEY not in text
    writes = _writes(emulator, before)
    # 30 updates, ten a batch; a tag each; 20 creates, one a request.
    assert writes.count(("PUT", "/v1/customers/batch")) == 3
    assert writes.count(("POST", "/v1/customers")) == 20
    assert "20 created, 30 updated, 0 unchanged, 0 rejected" in done.stderr
    # Applied once more (a fresh checkpoint): every row is unchanged, no write.
    before = len(emulator.log)
    again = run_cli(*import_args(source, emulator.base_url, "--overwrite", *QUIET), key=KEY)
    assert again.returncode == 0, again.stderr
    assert _writes(emulator, before) == []
    assert "0 created, 0 updated, 50 unchanged" in again.stderr


def _bad_file(source: Path) -> list[str]:
    lines = [
        json.dumps({"userId": "good-1", "email": "one@example.org", "name": "One"}),
        json.dumps({"email": "nokey@example.org"}),
        "{not json",
        json.dumps({"userId": "nested", "customData": {"Plan": {"deep": 1}}}),
        "",
        json.dumps({"userId": "good-1", "name": "Again"}),
        json.dumps({"userId": "tags", "tags": [3]}),
        json.dumps({"userId": "old-0", "notes": "fine"}),
        json.dumps(["a", "list"]),
        json.dumps({"userId": "name", "name": 7}),
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def test_bad_rows_are_rejected_with_line_numbers_and_the_rest_imported(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    emulator = helpcrunch_emulator_factory(customers=0, api_key=KEY)
    seed(emulator, 1)
    source = tmp_path / "bad.jsonl"
    _bad_file(source)
    done = run_cli(*import_args(source, emulator.base_url, *QUIET), key=KEY)
    assert done.returncode == REJECTED, done.stderr
    rejects = _rejects(source)
    assert [r["line"] for r in rejects] == [2, 3, 4, 6, 7, 9, 10]
    reasons = {r["line"]: r["reason"] for r in rejects}
    assert "no userId" in reasons[2]
    assert "not valid JSON" in reasons[3]
    assert "Plan" in reasons[4]
    assert "of line 1" in reasons[6]
    assert "tag" in reasons[7]
    assert "not a JSON object" in reasons[9]
    assert "name must be a string" in reasons[10]
    assert "1 created, 1 updated, 0 unchanged, 7 rejected" in done.stderr
    by_key = {c["userId"]: c for c in emulator.truth_customers()}
    assert by_key["good-1"]["name"] == "One"
    assert by_key["old-0"]["notes"] == "fine"


def test_strict_refuses_the_whole_file_before_any_request(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    emulator = helpcrunch_emulator_factory(customers=5, api_key=KEY)
    source = tmp_path / "bad.jsonl"
    _bad_file(source)
    done = run_cli(*import_args(source, emulator.base_url, "--strict", *QUIET), key=KEY)
    assert done.returncode == 2, done.stderr
    assert "--strict: 7 rows are bad" in done.stderr
    assert emulator.log == []
    assert [r["line"] for r in _rejects(source)] == [2, 3, 4, 6, 7, 9, 10]
    # Nothing was started: once the file is mended, a plain run imports it.
    assert not source.with_name(source.name + ".import.checkpoint.json").exists()


def test_a_key_several_customers_carry_is_rejected(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    # The generated account repeats emails across customers: the row names no one customer.
    emulator = helpcrunch_emulator_factory(customers=300, seed=3, api_key=KEY)
    emails = [c["email"] for c in emulator.truth_customers() if c["email"]]
    shared = next(e for e in emails if emails.count(e) > 1)
    source = tmp_path / "shared.jsonl"
    write_jsonl(source, [{"email": shared, "notes": "which one?"}])
    before = len(emulator.log)
    done = run_cli(*import_args(source, emulator.base_url, "--match", "email", *QUIET), key=KEY)
    assert done.returncode == REJECTED, done.stderr
    assert "matches" in _rejects(source)[0]["reason"]
    assert _writes(emulator, before) == []


def test_modes_create_and_update_reject_what_they_do_not_do(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    emulator = helpcrunch_emulator_factory(customers=0, api_key=KEY)
    seed(emulator, 2)
    records = rows(2, 2)
    source = tmp_path / "rows.jsonl"
    write_jsonl(source, records)
    created = run_cli(*import_args(source, emulator.base_url, "--mode", "create", *QUIET), key=KEY)
    assert created.returncode == REJECTED, created.stderr
    assert [r["line"] for r in _rejects(source)] == [1, 2]
    assert "already (--mode create)" in _rejects(source)[0]["reason"]
    source.with_name(source.name + ".import.checkpoint.json").unlink()
    write_jsonl(source, [*records, {"userId": "nobody", "notes": "x"}])
    updated = run_cli(*import_args(source, emulator.base_url, "--mode", "update", *QUIET), key=KEY)
    assert updated.returncode == REJECTED, updated.stderr
    assert [r["line"] for r in _rejects(source)] == [5]
    assert_applied_once(emulator, records)


def test_a_csv_header_the_export_does_not_write_is_refused(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    emulator = helpcrunch_emulator_factory(customers=5, api_key=KEY)
    source = tmp_path / "odd.csv"
    source.write_text("userId,shoeSize\r\nu1,44\r\n", encoding="utf-8")
    done = run_cli(*import_args(source, emulator.base_url, *QUIET), key=KEY)
    assert done.returncode == 2, done.stderr
    assert "shoeSize" in done.stderr
    assert emulator.log == []


def test_a_started_import_is_not_started_again_without_resume(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    emulator = helpcrunch_emulator_factory(customers=0, api_key=KEY)
    source = tmp_path / "rows.jsonl"
    write_jsonl(source, rows(0, 3))
    assert run_cli(*import_args(source, emulator.base_url, *QUIET), key=KEY).returncode == 0
    again = run_cli(*import_args(source, emulator.base_url, *QUIET), key=KEY)
    assert again.returncode == 2
    assert "--resume" in again.stderr
    resumed = run_cli(*import_args(source, emulator.base_url, "--resume", *QUIET), key=KEY)
    assert resumed.returncode == 0, resumed.stderr
    assert "already complete" in resumed.stderr
    source.write_text(source.read_text() + "\n", encoding="utf-8")
    changed = run_cli(*import_args(source, emulator.base_url, "--resume", *QUIET), key=KEY)
    assert changed.returncode == 2
    assert "the input changed" in changed.stderr


@pytest.mark.parametrize("planted", [".rejects.jsonl", ".import.checkpoint.json"])
def test_a_link_planted_beside_the_input_is_never_followed(
    planted: str, helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    emulator = helpcrunch_emulator_factory(customers=0, api_key=KEY)
    source = tmp_path / "rows.jsonl"
    write_jsonl(source, rows(0, 2))
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    source.with_name(source.name + planted).symlink_to(victim)
    done = run_cli(*import_args(source, emulator.base_url, *QUIET), key=KEY)
    assert done.returncode == 2, done.stderr
    assert "symbolic link" in done.stderr
    assert victim.read_text(encoding="utf-8") == "keep me\n"
    assert emulator.log == []
