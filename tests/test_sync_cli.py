"""``helpcrunch-async sync`` from its command line: options, --only, the summary, errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpcrunch_async._cli import main

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
    emulator = helpcrunch_emulator_factory(customers=50, chats=3, agents=4, departments=2)
    monkeypatch.setenv("HELPCRUNCH_API_KEY", emulator.api_key)
    assert main(_args(emulator, tmp_path, "--only", "agents,departments")) == 0
    assert {e.path for e in emulator.log} == {"/v1/agents", "/v1/departments"}
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["agents", "4", "0", "0"]
    assert out[2].split() == ["departments", "2", "0", "0"]
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
    from helpcrunch_async.dlt.demo import main as demo  # noqa: PLC0415 -- the demo is tested

    assert demo(tmp_path / "demo", customers=400, chats=20, rate=(500, 1.0)) == 0
    out = capsys.readouterr().out
    assert "second sync (what changed)" in out
    assert "holds 405 customers, 23 chats" in out


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
