"""The export refuses what it must not write through, and stops cleanly however it is stopped.

Real subprocesses against the emulator: planted links, replaced files, hand-edited
checkpoints, a directory as ``--out``, a wrong key and then the right one, and
Ctrl-C pressed again while the export cleans up.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import signal
import time
from typing import TYPE_CHECKING, Any

import pytest
from export_fixtures import (
    SECRET_KEY,
    checkpoint,
    export_args,
    jsonl_records,
    run_cli,
    start_cli,
    wait_for_text,
)

from helpcrunch_async.testing import Faults

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator

pytestmark = pytest.mark.slow

CUSTOMERS = 350
SORT = "customers.firstSeen"
# What must survive untouched: bigger than a partial export, so a truncation shows.
PRECIOUS = b"precious line, not an export\n" * 4000


@pytest.fixture
def emulator(helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]) -> ThreadedEmulator:
    return helpcrunch_emulator_factory(customers=CUSTOMERS, seed=7, api_key=SECRET_KEY)


@pytest.fixture
def failing(helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]) -> ThreadedEmulator:
    """An account whose third request fails for good: an export stops after 200 customers."""
    return helpcrunch_emulator_factory(
        customers=CUSTOMERS, seed=7, api_key=SECRET_KEY, faults=Faults(fail={3: "400"})
    )


def partial(out: Path, emulator: ThreadedEmulator, *extra: str) -> None:
    """Leave a resumable export of 200 customers at ``out``."""
    done = run_cli(*export_args(out, emulator.base_url, "--concurrency", "1", *extra))
    assert done.returncode == 4, done.stderr
    assert checkpoint(out)["records"] == 200


def cp_path(out: Path) -> Path:
    return out.with_name(out.name + ".checkpoint.json")


def edit_checkpoint(out: Path, **changes: Any) -> None:
    saved = checkpoint(out)
    saved.update(changes)
    cp_path(out).write_text(json.dumps(saved))


def refused(done: Any, *words: str) -> None:
    assert done.returncode == 2, done.stderr
    for word in words:
        assert word in done.stderr
    assert "Traceback" not in done.stderr


# --- symbolic links and replaced files ----------------------------------------------------


def test_resume_refuses_an_output_replaced_by_a_link_to_another_file(
    tmp_path: Path, failing: ThreadedEmulator
) -> None:
    out = tmp_path / "c.jsonl"
    partial(out, failing)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(PRECIOUS)
    out.unlink()
    out.symlink_to(victim)
    failing.reset_log()

    done = run_cli(*export_args(out, failing.base_url, "--resume"))
    refused(done, "symbolic link")
    assert victim.read_bytes() == PRECIOUS
    assert failing.log == []


def test_resume_refuses_an_output_replaced_by_another_file(
    tmp_path: Path, failing: ThreadedEmulator
) -> None:
    out = tmp_path / "c.jsonl"
    partial(out, failing)
    # A new file in its place (the old one moved aside, more put in): not the
    # file the checkpoint vouches for, whatever its bytes.
    copy = out.read_bytes() + b'{"id": 1}\n'
    out.rename(tmp_path / "moved-aside.jsonl")
    out.write_bytes(copy)

    done = run_cli(*export_args(out, failing.base_url, "--resume"))
    refused(done, "not the file its checkpoint vouches for", "--overwrite")
    assert out.read_bytes() == copy


def test_a_link_planted_at_the_old_checkpoint_temp_name_is_never_followed(
    tmp_path: Path, emulator: ThreadedEmulator
) -> None:
    out = tmp_path / "c.jsonl"
    victim = tmp_path / "victim.txt"
    victim.write_bytes(PRECIOUS)
    planted = tmp_path / "c.jsonl.checkpoint.json.tmp"
    planted.symlink_to(victim)

    done = run_cli(*export_args(out, emulator.base_url))
    assert done.returncode == 0, done.stderr
    assert victim.read_bytes() == PRECIOUS
    assert planted.is_symlink()
    assert len(jsonl_records(out)) == CUSTOMERS
    # No temporary checkpoint is left behind either.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "c.jsonl",
        "c.jsonl.checkpoint.json",
        planted.name,
        "victim.txt",
    ]


def test_resume_refuses_a_checkpoint_that_is_a_link(
    tmp_path: Path, failing: ThreadedEmulator
) -> None:
    out = tmp_path / "c.jsonl"
    partial(out, failing)
    elsewhere = tmp_path / "elsewhere.json"
    cp_path(out).rename(elsewhere)
    saved = elsewhere.read_bytes()
    cp_path(out).symlink_to(elsewhere)
    before = out.read_bytes()

    done = run_cli(*export_args(out, failing.base_url, "--resume"))
    refused(done, "checkpoint", "symbolic link")
    assert elsewhere.read_bytes() == saved
    assert out.read_bytes() == before


def test_overwrite_refuses_an_output_that_is_a_link(
    tmp_path: Path, emulator: ThreadedEmulator
) -> None:
    out = tmp_path / "c.jsonl"
    victim = tmp_path / "victim.txt"
    victim.write_bytes(PRECIOUS)
    out.symlink_to(victim)

    done = run_cli(*export_args(out, emulator.base_url, "--overwrite"))
    refused(done, "symbolic link")
    assert victim.read_bytes() == PRECIOUS
    assert emulator.log == []


# --- the CSV options live in the checkpoint; no BOM unless --excel ------------------------


@pytest.mark.parametrize(
    ("first", "then", "words"),
    [
        ((), ("--csv-raw",), ("without --csv-raw",)),
        (("--csv-raw",), (), ("with --csv-raw",)),
        ((), ("--excel",), ("without --excel",)),
        (("--excel",), (), ("with --excel",)),
    ],
)
def test_resume_refuses_other_csv_options(
    tmp_path: Path,
    failing: ThreadedEmulator,
    first: tuple[str, ...],
    then: tuple[str, ...],
    words: tuple[str, ...],
) -> None:
    out = tmp_path / "c.csv"
    partial(out, failing, *first)
    before = out.read_bytes()
    failing.reset_log()

    done = run_cli(*export_args(out, failing.base_url, "--resume", *then))
    refused(done, *words)
    assert out.read_bytes() == before
    assert failing.log == []


def test_csv_has_no_byte_order_mark_unless_excel_asks(
    tmp_path: Path, emulator: ThreadedEmulator
) -> None:
    plain = tmp_path / "plain.csv"
    assert run_cli(*export_args(plain, emulator.base_url)).returncode == 0
    with plain.open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert rows[0].keys() >= {"id", "email"}
    assert [int(row["id"]) for row in rows] == emulator.expected_ids(SORT, "asc")

    excel = tmp_path / "excel.csv"
    assert run_cli(*export_args(excel, emulator.base_url, "--excel")).returncode == 0
    data = excel.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfid,")
    assert data[3:] == plain.read_bytes()


def test_excel_applies_to_csv_only(tmp_path: Path, emulator: ThreadedEmulator) -> None:
    done = run_cli(*export_args(tmp_path / "c.jsonl", emulator.base_url, "--excel"))
    refused(done, "--excel applies to --format csv only")


# --- a hand-edited checkpoint is checked against the file ---------------------------------


@pytest.mark.parametrize(
    ("suffix", "change", "words"),
    [
        (".jsonl", {"bytes": -5}, ("bytes is -5", "negative")),
        (".jsonl", {"records": -1}, ("records is -1", "negative")),
        (".jsonl", "mid-record", ("end inside a record",)),
        (".csv", "mid-record", ("end inside a record",)),
        (".jsonl", {"records": 199}, ("says 199 records", "hold 200")),
        (".jsonl", {"records": 201}, ("says 201 records", "hold 200")),
        (".csv", {"records": 150}, ("says 150 records", "hold 200")),
    ],
)
def test_resume_refuses_a_hand_edited_checkpoint_by_naming_the_problem(
    tmp_path: Path,
    failing: ThreadedEmulator,
    suffix: str,
    change: dict[str, int] | str,
    words: tuple[str, ...],
) -> None:
    out = tmp_path / f"c{suffix}"
    partial(out, failing)
    before = out.read_bytes()
    if change == "mid-record":
        edit_checkpoint(out, bytes=len(before) - 20)
    else:
        assert isinstance(change, dict)
        edit_checkpoint(out, **change)
    failing.reset_log()

    done = run_cli(*export_args(out, failing.base_url, "--resume"))
    refused(done, *words)
    assert out.read_bytes() == before
    assert failing.log == []


def test_a_checkpoint_cut_back_to_an_earlier_record_boundary_resumes_byte_identical(
    tmp_path: Path, failing: ThreadedEmulator, emulator: ThreadedEmulator
) -> None:
    reference = tmp_path / "reference.jsonl"
    assert run_cli(*export_args(reference, emulator.base_url)).returncode == 0
    out = tmp_path / "c.jsonl"
    partial(out, failing)
    lines = out.read_bytes().splitlines(keepends=True)
    edit_checkpoint(out, records=150, bytes=sum(len(line) for line in lines[:150]))

    done = run_cli(*export_args(out, failing.base_url, "--resume"))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == reference.read_bytes()


# --- a directory, a wrong key then the right one, Ctrl-C twice ----------------------------


def test_out_naming_a_directory_says_so_at_once(tmp_path: Path, emulator: ThreadedEmulator) -> None:
    for extra in ((), ("--resume",), ("--overwrite",)):
        done = run_cli(*export_args(tmp_path, emulator.base_url, *extra))
        refused(done, "is a directory")
    assert emulator.log == []


def test_after_a_wrong_key_the_same_command_with_the_right_key_works(
    tmp_path: Path, emulator: ThreadedEmulator
) -> None:
    out = tmp_path / "c.jsonl"
    wrong = run_cli(*export_args(out, emulator.base_url), key="sk-wrong-key-ALSO-SECRET")
    assert wrong.returncode == 3, wrong.stderr
    # What is left is ours, and marked as not started: no record in it.
    assert out.read_bytes() == b""
    assert (checkpoint(out)["records"], checkpoint(out)["complete"]) == (0, False)

    right = run_cli(*export_args(out, emulator.base_url))
    assert right.returncode == 0, right.stderr
    assert [r["id"] for r in jsonl_records(out)] == emulator.expected_ids(SORT, "asc")


def test_a_started_export_is_still_refused_without_resume_or_overwrite(
    tmp_path: Path, failing: ThreadedEmulator
) -> None:
    out = tmp_path / "c.jsonl"
    partial(out, failing)
    before = out.read_bytes()
    done = run_cli(*export_args(out, failing.base_url))
    refused(done, "--resume", "--overwrite")
    assert out.read_bytes() == before


@pytest.mark.parametrize("gap", [0.001, 0.005, 0.05])
def test_ctrl_c_pressed_again_during_cleanup_still_ends_cleanly(
    tmp_path: Path,
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    gap: float,
) -> None:
    emulator = helpcrunch_emulator_factory(
        customers=4000, seed=3, api_key=SECRET_KEY, faults=Faults(latency=0.1, jitter=0.1)
    )
    out = tmp_path / "c.jsonl"
    log = tmp_path / "stderr.txt"
    args = export_args(out, emulator.base_url, "--progress", "log", "--progress-interval", "0.1")
    process = start_cli(*args, stderr=log, python_flags=("-W", "always::ResourceWarning"))
    try:
        assert wait_for_text(log, "progress:", timeout=15), log.read_text()
        # Ctrl-C, then again and again until the process is gone: some land in
        # every phase of the clean-up and of the interpreter's exit.
        for _ in range(400):
            if process.poll() is not None:
                break
            process.send_signal(signal.SIGINT)
            time.sleep(gap)
        code = process.wait(15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    text = log.read_text()
    assert code == 130, text
    assert "interrupted: " in text
    assert "--resume" in text
    for trouble in ("Traceback", "Unclosed", "ResourceWarning", "Task was destroyed"):
        assert trouble not in text
    saved = checkpoint(out)
    assert saved["bytes"] == out.stat().st_size
    assert saved["complete"] is False


# --- a scan that comes up short is a failed export, and resumable -------------------------


def test_data_stopping_short_of_the_total_fails_and_resumes_to_the_whole_export(
    tmp_path: Path, helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]
) -> None:
    emulator = helpcrunch_emulator_factory(
        customers=CUSTOMERS, seed=7, api_key=SECRET_KEY, faults=Faults(data_stops_at=150)
    )
    reference = tmp_path / "reference.jsonl"
    out = tmp_path / "c.jsonl"
    done = run_cli(*export_args(out, emulator.base_url))
    assert done.returncode == 4, done.stderr
    assert "--resume" in done.stderr
    saved = checkpoint(out)
    assert saved["complete"] is False
    assert saved["records"] == len(jsonl_records(out)) <= 150

    emulator.configure(data_stops_at=None)
    again = run_cli(*export_args(out, emulator.base_url, "--resume"))
    assert again.returncode == 0, again.stderr
    assert run_cli(*export_args(reference, emulator.base_url)).returncode == 0
    assert out.read_bytes() == reference.read_bytes()


def test_a_server_serving_short_pages_still_exports_everyone(
    tmp_path: Path, helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]
) -> None:
    emulator = helpcrunch_emulator_factory(
        customers=CUSTOMERS, seed=7, api_key=SECRET_KEY, faults=Faults(page_cap=40)
    )
    out = tmp_path / "c.jsonl"
    done = run_cli(*export_args(out, emulator.base_url))
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in jsonl_records(out)] == emulator.expected_ids(SORT, "asc")


# --- a long Retry-After stops the export at once; it says when to resume ------------------


def test_an_hour_long_retry_after_stops_at_once_and_says_when_to_resume(
    tmp_path: Path, helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]
) -> None:
    # One request an hour: the second request's 429 asks for about 3,600 s.
    emulator = helpcrunch_emulator_factory(
        customers=CUSTOMERS,
        seed=7,
        api_key=SECRET_KEY,
        policy="sliding",
        rate_limit=1,
        rate_period=3600.0,
    )
    out = tmp_path / "c.jsonl"
    started = time.time()
    # Waiting out the hour would end in run_cli's timeout. "At once" is the
    # event, not a duration: the first 429 is the last request, never retried
    # (the wait itself is pinned on an injected clock in test_attempt_bounds).
    done = run_cli(*export_args(out, emulator.base_url), timeout=20)
    ended = time.time()
    assert done.returncode == 5, done.stderr
    statuses = [entry.status for entry in emulator.log]
    assert statuses.count(429) == 1
    assert statuses[-1] == 429
    # The line is printed and parseable; the moment it names is exact in
    # resume_hint's own tests. Here it is read between the two clock readings
    # around the run (the unix clock the command reads too): the Retry-After
    # the error names, counted from when the hint was made, rounded up.
    waited = re.search(r"Retry-After (\d+) s", done.stderr)
    found = re.search(r"--resume after (\S+ \S+) UTC", done.stderr)
    assert waited is not None, done.stderr
    assert found is not None, done.stderr
    at = dt.datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC).timestamp()
    retry_after = int(waited[1])
    assert 0 < retry_after <= 3600
    assert started + retry_after <= at
    assert at - 1 < ended + retry_after
    saved = checkpoint(out)
    assert saved["complete"] is False
    assert saved["records"] == len(jsonl_records(out))

    emulator.configure(policy="none")
    again = run_cli(*export_args(out, emulator.base_url, "--resume"))
    assert again.returncode == 0, again.stderr
    assert [r["id"] for r in jsonl_records(out)] == emulator.expected_ids(SORT, "asc")


def test_max_rate_limit_wait_sets_how_long_a_pause_may_be(
    tmp_path: Path, helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]
) -> None:
    # The server allows 3 requests per second; the client is told 50.
    emulator = helpcrunch_emulator_factory(
        customers=CUSTOMERS,
        seed=7,
        api_key=SECRET_KEY,
        policy="fixed",
        rate_limit=3,
        rate_period=1.0,
    )
    fast = ("--rate-limit", "50", "--rate-period", "1")
    out = tmp_path / "c.jsonl"
    impatient = run_cli(*export_args(out, emulator.base_url, *fast, "--max-rate-limit-wait", "0"))
    assert impatient.returncode == 5, impatient.stderr
    assert "--resume after" in impatient.stderr

    patient = run_cli(*export_args(out, emulator.base_url, *fast, "--resume"))
    assert patient.returncode == 0, patient.stderr
    assert "429s" in patient.stderr
    assert [r["id"] for r in jsonl_records(out)] == emulator.expected_ids(SORT, "asc")
