"""``helpcrunch-async sync`` from its command line: options, --only, the summary, errors."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

from helpcrunch_async._cli import main
from helpcrunch_async._cli.sync_report import progress_line
from helpcrunch_async.dlt import SyncReport, TableReport
from helpcrunch_async.testing import Account

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import pytest

    from helpcrunch_async.testing._thread import ThreadedEmulator


def _args(emulator: ThreadedEmulator, folder: Path, *more: str) -> list[str]:
    return [
        "sync",
        "--base-url",
        emulator.base_url,
        "--duckdb-file",
        str(folder / "mirror.duckdb"),
        "--pipelines-dir",
        str(folder / "pipelines"),
        "--rate-limit",
        "1000",
        "--rate-period",
        "1",
        "--quiet",
        *more,
    ]


def test_only_some_resources_are_read_and_summarised(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = helpcrunch_emulator_factory(
        customers=50, chats=3, account=Account(agents=4, departments=2)
    )
    monkeypatch.setenv("HELPCRUNCH_API_KEY", emulator.api_key)
    assert main(_args(emulator, tmp_path, "--only", "agents,departments")) == 0
    assert {e.path for e in emulator.log} == {"/v1/agents", "/v1/departments"}
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["agents", "4", "0", "0", "0"]
    assert out[2].split() == ["departments", "2", "0", "0", "0"]
    # The engine opens a listing with two windows: two requests each.
    assert out[3] == f"requests spent: {len(emulator.log)}"
    assert len(emulator.log) <= 4


def test_bad_options_fail_before_any_request(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = helpcrunch_emulator_factory(customers=5)
    monkeypatch.delenv("HELPCRUNCH_API_KEY", raising=False)
    assert main(_args(emulator, tmp_path)) == 2
    assert "no API key" in capsys.readouterr().err
    monkeypatch.setenv("HELPCRUNCH_API_KEY", emulator.api_key)
    assert main(_args(emulator, tmp_path, "--only", "customers,tickets")) == 2
    assert "tickets" in capsys.readouterr().err
    assert emulator.log == []


def test_the_dlt_subpackage_exports_are_pinned_and_load_dlt_lazily() -> None:
    import helpcrunch_async.dlt as hc_dlt  # noqa: PLC0415 -- the import is what is tested

    assert hc_dlt.__all__ == [
        "DELETED_COLUMN",
        "RESOURCES",
        "SyncReport",
        "TableReport",
        "helpcrunch_source",
    ]
    assert all(getattr(hc_dlt, name) is not None for name in hc_dlt.__all__)


def test_the_sync_demo_ends_with_the_accounts_numbers_in_duckdb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpcrunch_async._cli.sync_demo import main as demo  # noqa: PLC0415 -- the demo is tested

    assert demo(tmp_path / "demo", customers=400, chats=20, rate=(500, 1.0)) == 0
    out = capsys.readouterr().out
    assert "second sync (what changed)" in out
    assert "holds 405 customers, 23 chats" in out
    # An edit no search can see reached the mirror through its webhook and the inbox.
    assert "email in the mirror: announced.by.webhook@example.org" in out
    assert "inbox: 1 events applied" in out
    # The sync's state beside the DuckDB file, not in dlt's global folder.
    assert (tmp_path / "demo" / "helpcrunch_sync.dlt" / "helpcrunch_sync").is_dir()


def test_a_refused_key_ends_with_the_auth_exit_code_and_one_line(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator = helpcrunch_emulator_factory(customers=30)
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "not-the-key")
    assert main(_args(emulator, tmp_path, "--only", "customers")) == 3
    err = capsys.readouterr().err
    assert "error: the sync stopped:" in err
    assert "Traceback" not in err
    assert "not-the-key" not in err


def test_a_corrupted_state_file_is_a_local_error_that_names_the_file(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # It gave exit 4, named no file, and said to run again, which failed for ever.
    emulator = helpcrunch_emulator_factory(customers=30)
    monkeypatch.setenv("HELPCRUNCH_API_KEY", emulator.api_key)
    assert main(_args(emulator, tmp_path, "--only", "customers")) == 0
    state = tmp_path / "pipelines" / "helpcrunch_sync" / "state.json"
    state.write_text('{"broken', encoding="utf-8")
    capsys.readouterr()
    emulator.reset_log()
    assert main(_args(emulator, tmp_path, "--only", "customers")) == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "pipelines" / "helpcrunch_sync") in err
    assert "move that folder away" in err
    assert "run it again" not in err
    assert emulator.log == []


def test_a_locked_duckdb_file_is_a_local_error(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The exit-code table says 1 for the machine's failures; it gave 4.
    emulator = helpcrunch_emulator_factory(customers=30)
    monkeypatch.setenv("HELPCRUNCH_API_KEY", emulator.api_key)
    assert main(_args(emulator, tmp_path, "--only", "customers")) == 0
    database = tmp_path / "mirror.duckdb"
    holder = subprocess.Popen(  # noqa: S603 -- our own interpreter: another process holds the file
        [
            sys.executable,
            "-c",
            (
                "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
                "sys.stdin.read()"
            ),
            str(database),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        capsys.readouterr()
        assert main(_args(emulator, tmp_path, "--only", "customers")) == 1
    finally:
        holder.communicate("", timeout=30)
    err = capsys.readouterr().err
    assert str(database) in err
    assert "lock" in err


def test_the_progress_line_counts_live_and_gives_no_eta_once_the_reads_are_over() -> None:
    # It froze at one request count and showed "ETA 0s" while dlt loaded.
    spent = [40]
    report = SyncReport(expected={"customers"}, live_requests=lambda: spent[0])
    report.full_reads.add("customers")
    report.totals["customers"] = 1_000
    report.tables["customers"] = TableReport(new=250)
    line = progress_line(report, 10.0)
    assert " 40 requests" in line
    assert "customers 250/1000, ETA 30s" in line
    spent[0] = 90
    report.tables["customers"].new = 1_000
    assert " 90 requests" in progress_line(report, 12.0)
    report.finished.add("customers")
    line = progress_line(report, 14.0)
    assert "ETA" not in line
    assert line.endswith("reading done, writing to the destination")
