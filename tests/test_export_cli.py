"""``helpcrunch-async export customers``: real subprocesses against the emulator."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from export_fixtures import (
    CLI,
    SECRET_KEY,
    checkpoint,
    cli_env,
    export_args,
    jsonl_records,
    run_cli,
)
from hypothesis import given
from hypothesis import strategies as st

from helpcrunch_async._cli import main
from helpcrunch_async._core.cells import CSV_COLUMNS
from helpcrunch_async._core.filters import Filter, search_fields
from helpcrunch_async._errors import InvalidParameterError
from helpcrunch_async._export.run import ExportResult, resume_hint
from helpcrunch_async._export.run import _exit_code as exit_code
from helpcrunch_async.testing import Faults

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator

pytestmark = pytest.mark.slow

CUSTOMERS = 350
SORT = "customers.firstSeen"


@pytest.fixture
def emulator(helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]) -> ThreadedEmulator:
    return helpcrunch_emulator_factory(customers=CUSTOMERS, seed=7, api_key=SECRET_KEY)


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert SECRET_KEY not in text


def test_jsonl_export_holds_every_customer_in_server_order(
    tmp_path: Path, emulator: ThreadedEmulator
) -> None:
    out = tmp_path / "customers.jsonl"
    done = run_cli(*export_args(out, emulator.base_url))
    assert done.returncode == 0, done.stderr
    records = jsonl_records(out)
    assert [r["id"] for r in records] == emulator.expected_ids(SORT, "asc")
    assert records[0].keys() >= {"id", "email", "firstSeen", "customData", "location"}
    saved = checkpoint(out)
    assert (saved["records"], saved["bytes"], saved["complete"]) == (
        CUSTOMERS,
        out.stat().st_size,
        True,
    )
    assert saved["settings"]["sort"] == SORT
    assert "complete: 350 customers" in done.stderr
    assert "requests" in done.stderr
    assert "total unchanged (350)" in done.stderr
    cp_text = out.with_name(out.name + ".checkpoint.json").read_text()
    assert_no_key(done.stdout, done.stderr, out.read_text(), cp_text)


def test_csv_export_by_suffix_in_descending_order(
    tmp_path: Path, emulator: ThreadedEmulator
) -> None:
    out = tmp_path / "customers.csv"
    done = run_cli(*export_args(out, emulator.base_url, "--order", "desc", "--sort", "none"))
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(out.read_text("utf-8-sig"), newline="")))
    assert rows[0] == list(CSV_COLUMNS)
    assert [int(row[0]) for row in rows[1:]] == emulator.expected_ids(None, "desc")
    custom = [json.loads(row[-1]) for row in rows[1:] if row[-1]]
    assert custom
    assert all(isinstance(c, dict) for c in custom)


def test_a_wrong_key_exits_3_without_echoing_it(tmp_path: Path, emulator: ThreadedEmulator) -> None:
    out = tmp_path / "c.jsonl"
    done = run_cli(*export_args(out, emulator.base_url), key="sk-wrong-key-ALSO-SECRET")
    assert done.returncode == 3, done.stderr
    assert "error:" in done.stderr
    assert "sk-wrong-key-ALSO-SECRET" not in done.stderr + done.stdout


def test_an_api_error_exits_4_and_keeps_what_was_written(
    tmp_path: Path, helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]
) -> None:
    emulator = helpcrunch_emulator_factory(
        customers=CUSTOMERS, seed=7, api_key=SECRET_KEY, faults=Faults(fail={3: "400"})
    )
    out = tmp_path / "c.jsonl"
    done = run_cli(*export_args(out, emulator.base_url, "--concurrency", "1"))
    assert done.returncode == 4, done.stderr
    assert "--resume" in done.stderr
    saved = checkpoint(out)
    assert saved["complete"] is False
    assert saved["records"] == len(jsonl_records(out)) == 200

    again = run_cli(*export_args(out, emulator.base_url, "--resume"))
    assert again.returncode == 0, again.stderr
    assert [r["id"] for r in jsonl_records(out)] == emulator.expected_ids(SORT, "asc")


def test_an_existing_file_is_refused_then_overwritten_on_request(
    tmp_path: Path, emulator: ThreadedEmulator
) -> None:
    out = tmp_path / "c.jsonl"
    out.write_text("precious\n")
    refused = run_cli(*export_args(out, emulator.base_url))
    assert refused.returncode == 2
    assert "--overwrite" in refused.stderr
    assert out.read_text() == "precious\n"
    assert emulator.log == []

    done = run_cli(*export_args(out, emulator.base_url, "--overwrite"))
    assert done.returncode == 0, done.stderr
    assert len(jsonl_records(out)) == CUSTOMERS


def test_resume_with_another_sort_is_refused_and_a_finished_one_is_left_alone(
    tmp_path: Path, emulator: ThreadedEmulator
) -> None:
    out = tmp_path / "c.jsonl"
    assert run_cli(*export_args(out, emulator.base_url)).returncode == 0
    before = out.read_bytes()
    emulator.reset_log()

    refused = run_cli(*export_args(out, emulator.base_url, "--resume", "--sort", "none"))
    assert refused.returncode == 2
    assert "--sort customers.firstSeen" in refused.stderr
    finished = run_cli(*export_args(out, emulator.base_url, "--resume"))
    assert finished.returncode == 0
    assert "already complete" in finished.stderr
    assert out.read_bytes() == before
    assert emulator.log == []


def test_api_key_on_the_command_line_warns_and_a_key_file_works(
    tmp_path: Path, emulator: ThreadedEmulator
) -> None:
    out = tmp_path / "c.jsonl"
    done = run_cli(*export_args(out, emulator.base_url, "--api-key", SECRET_KEY), key=None)
    assert done.returncode == 0, done.stderr
    assert "warning: --api-key" in done.stderr
    assert "process" in done.stderr
    assert_no_key(done.stderr.replace("--api-key", ""), done.stdout)

    key_file = tmp_path / "key"
    key_file.write_text(SECRET_KEY + "\n")
    other = tmp_path / "d.jsonl"
    done = run_cli(
        *export_args(other, emulator.base_url, "--api-key-file", str(key_file)), key=None
    )
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    assert other.read_bytes() == out.read_bytes()


# --- usage errors: in-process, they stop before any request --------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required"),
        (["export", "customers"], "--out"),
        (["export", "customers", "--out", "x.jsonl", "--sort", "name"], "invalid choice"),
        (["export", "customers", "--out", "x.jsonl", "--resume", "--overwrite"], "not allowed"),
        (["export", "customers", "--out", "x.jsonl", "--format", "xml"], "invalid choice"),
        (
            ["export", "customers", "--out", "x.jsonl", "--base-url", "http://example.com/v1"],
            "https",
        ),
        (["export", "customers", "--out", "x.jsonl", "--redis-key", "k"], "needs --redis-url"),
        (["export", "customers", "--out", "x.jsonl", "--csv-raw"], "csv only"),
        (["export", "customers", "--out", "x.jsonl", "--rate-limit", "0"], "rate_limit"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HELPCRUNCH_API_KEY", SECRET_KEY)
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()


def test_no_key_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HELPCRUNCH_API_KEY", raising=False)
    assert main(["export", "customers", "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "HELPCRUNCH_API_KEY" in capsys.readouterr().err


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "customers", "--help"]) == 0
    text = capsys.readouterr().out
    for code in ("0 ", "2 ", "3 ", "4 ", "5 ", "130"):
        assert f"  {code}" in text


def test_export_loads_neither_the_demo_nor_the_emulator() -> None:
    code = (
        "import sys\n"
        "from helpcrunch_async._cli import main\n"
        "assert main(['export', 'customers', '--help']) == 0\n"
        "prefixes = ('helpcrunch_async.testing', 'helpcrunch_async._export.demo', 'aiohttp.web')\n"
        "sys.stderr.write(repr(sorted(m for m in sys.modules if m.startswith(prefixes))))\n"
    )
    done = subprocess.run(  # noqa: S603 -- our own interpreter, a fixed script
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "[]"


def test_the_emulator_command_parses_its_own_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--help"]) == 0
    shown = capsys.readouterr().out
    assert "--customers" in shown
    assert "helpcrunch-async emulator" in shown
    assert main(["emulator", "--policy", "bogus"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "emulator" in capsys.readouterr().out


@pytest.mark.parametrize("seconds", ["0", "-1", "0.001", "nan", "inf"])
def test_a_progress_interval_below_the_floor_is_refused_before_any_request(
    seconds: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.jsonl"
    argv = export_args(out, "http://127.0.0.1:1/v1", "--progress", "log")
    code = main([*argv, f"--progress-interval={seconds}", "--api-key", SECRET_KEY])
    assert code == 2
    assert "--progress-interval must be at least 0.1 seconds" in capsys.readouterr().err
    assert not out.exists()


def test_a_rate_limit_says_when_to_resume() -> None:
    now = 1_700_000_000.0
    hint = resume_hint(3600, now)
    assert "wait 1h00m" in hint
    assert "--resume after 2023-11-14 23:13:20 UTC" in hint
    assert "--resume later" in resume_hint(None, now)
    # A pause ending within a second is promised at the next whole second, never before.
    assert "--resume after 2023-11-14 23:13:21 UTC" in resume_hint(3600, now + 0.25)
    assert "--resume after 2023-11-14 23:13:21 UTC" in resume_hint(3600.5, now)


def resume_moment(hint: str) -> float:
    """The unix time of the moment a hint prints."""
    found = re.search(r"--resume after (\S+ \S+) UTC", hint)
    assert found is not None, hint
    return dt.datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC).timestamp()


@given(
    now=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    retry_after=st.floats(min_value=0, max_value=86_400 * 30, allow_nan=False),
)
def test_the_printed_moment_is_the_first_whole_second_after_the_pause(
    now: float, retry_after: float
) -> None:
    # The promise: a run started at the printed second (or later) is past the pause.
    at = resume_moment(resume_hint(retry_after, now))
    assert at - 1 < now + retry_after <= at


# --- what the command says before it sends anything ------------------------------------


@pytest.mark.parametrize("name", ["c.xlsx", "c.json", "c"])
def test_an_output_suffix_that_names_no_format_is_refused(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", SECRET_KEY)
    out = tmp_path / name
    assert main(["export", "customers", "--out", str(out), "--base-url", "http://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert f"--out {out} has" in err
    assert "--format jsonl or --format csv" in err
    assert not out.exists()


def test_an_unknown_suffix_is_written_in_the_format_given(
    tmp_path: Path, emulator: ThreadedEmulator
) -> None:
    out = tmp_path / "customers.txt"
    done = run_cli(*export_args(out, emulator.base_url, "--format", "csv", "--progress", "off"))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().split(b"\r\n", 1)[0].decode() == ",".join(CSV_COLUMNS)


def test_help_shows_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "chats", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for shown in (
        "requests per period (default: 120)",
        "(default: chats.createdAt)",
        "sort order (default: asc)",
        "(default: AND)",
        "requests in flight (default: 8)",
        "(default: https://api.helpcrunch.com/v1)",
        "at least 0.1 (default: 5.0)",
    ):
        assert shown in text
    assert "(default: None)" not in text
    assert "(default: False)" not in text


@pytest.mark.parametrize("kind", ["customers", "chats"])
def test_the_filter_example_in_the_help_is_one_the_command_takes(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", kind, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    field = text.split("e.g. --filter ", 1)[1].split()[0]
    assert field in search_fields(kind)  # type: ignore[arg-type]
    Filter.from_text(field, ">=", "2026-01-01T00:00:00+00:00")


def test_a_mistyped_filter_field_is_answered_with_a_guess(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", SECRET_KEY)
    out = tmp_path / "x.jsonl"
    argv = ["export", "customers", "--out", str(out), "--filter", "customers.emial", "~", "x"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "did you mean customers.email?" in err
    assert "chats." not in err
    argv = ["export", "chats", "--out", str(out), "--filter", "chats.createdAt", ">=", "2026-01-01"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "has no offset" in err
    assert "tzinfo" not in err
    assert not out.exists()


def test_chat_ids_beyond_64_bits_are_refused_before_any_request(
    tmp_path: Path, helpcrunch_emulator_factory: Callable[..., ThreadedEmulator]
) -> None:
    emulator = helpcrunch_emulator_factory(customers=5, chats=3, api_key=SECRET_KEY)
    ids = tmp_path / "ids.txt"
    ids.write_text(f"1\n2\n{2**63}\n")
    out = tmp_path / "m.jsonl"
    argv = export_args(out, emulator.base_url, "--chats", str(ids), kind="messages")
    done = run_cli(*argv)
    assert done.returncode == 2, done.stderr
    assert "9223372036854775808" in done.stderr
    assert "--resume" not in done.stderr
    assert emulator.log == []
    assert not out.exists()


def test_a_bad_parameter_found_after_requests_is_not_exit_2() -> None:
    found = InvalidParameterError("chat_id must be at most 2**63 - 1")
    assert exit_code(ExportResult("failed", 3, 3, None, found)) == 4
    # Before any request, it is the usage error it says it is.
    assert exit_code(ExportResult("failed", 0, 0, None, found)) == 2


def test_argument_bytes_that_are_not_utf_8_are_refused_naming_the_option(
    tmp_path: Path, emulator: ThreadedEmulator
) -> None:
    # Python hands argv bytes that are not UTF-8 over as lone surrogates.
    out = tmp_path / "x.jsonl"
    argv = [os.fsencode(a) for a in export_args(out, emulator.base_url)]
    for extra, says in (
        ([b"--filter", b"customers.name", b"~", b"caf\xe9"], "filter on customers.name: the value"),
        ([b"--redis-url", b"redis://127.0.0.1:1/\xff", b"--redis-key", b"k"], "--redis-url"),
        ([b"--redis-url", b"redis://127.0.0.1:1/0", b"--redis-key", b"k\xff"], "the budget key"),
    ):
        done = subprocess.run(  # noqa: S603 -- our own interpreter and module
            [*(os.fsencode(a) for a in CLI), *argv, *extra],
            env=cli_env(),
            capture_output=True,
            timeout=30,
            check=False,
        )
        err = done.stderr.decode(errors="replace")
        assert done.returncode == 2, err
        assert f"{says} is not valid text" in err
        assert "Traceback" not in err
    assert emulator.log == []
    assert not out.exists()


def test_a_low_rate_limit_with_redis_names_the_option_the_command_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", SECRET_KEY)
    out = tmp_path / "x.jsonl"
    redis = ["--redis-url", "redis://127.0.0.1:1/0", "--redis-key", "k", "--rate-limit", "2"]
    assert main(["export", "customers", "--out", str(out), *redis]) == 2
    err = capsys.readouterr().err
    assert "--redis-processes must be from 1 to --rate-limit (2), got 4" in err
    assert "fallback_workers" not in err
    assert not out.exists()


@pytest.mark.parametrize(("name", "refused"), [("c.csv", True), ("c.jsonl", False)])
def test_a_csv_begun_under_the_old_formula_guard_is_not_resumed_under_the_new(
    name: str, refused: bool, tmp_path: Path, emulator: ThreadedEmulator
) -> None:
    out = tmp_path / name
    done = run_cli(*export_args(out, emulator.base_url, "--progress", "off"))
    assert done.returncode == 0, done.stderr
    # A checkpoint as the earlier version wrote it: no rules number, and (here) unfinished.
    path = out.with_name(out.name + ".checkpoint.json")
    saved = json.loads(path.read_text())
    del saved["settings"]["formula_rules"]
    saved["complete"] = False
    path.write_text(json.dumps(saved))
    before = out.read_bytes()
    emulator.reset_log()

    done = run_cli(*export_args(out, emulator.base_url, "--resume", "--progress", "off"))
    if refused:
        assert done.returncode == 2, done.stderr
        assert "guarded by the rules of another version" in done.stderr
        assert out.read_bytes() == before
        assert emulator.log == []
    else:
        assert done.returncode == 0, done.stderr
