"""The options ``export`` and ``sync`` share mean the same in both, checked before any request."""

from __future__ import annotations

import io
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from helpcrunch_async._cli import main
from helpcrunch_async._cli.exit_codes import HELP_TEXT
from helpcrunch_async._export.progress import ProgressDisplay
from helpcrunch_async.testing import Account

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator


def _sync(folder: Path, *more: str, only: str = "agents") -> list[str]:
    return [
        "sync",
        "--duckdb-file",
        str(folder / "mirror.duckdb"),
        "--pipelines-dir",
        str(folder / "pipelines"),
        "--rate-limit",
        "1000",
        "--rate-period",
        "1",
        "--only",
        only,
        "--quiet",
        *more,
    ]


def _export(folder: Path, *more: str) -> list[str]:
    out = str(folder / "agents.jsonl")
    return ["export", "agents", "--out", out, "--rate-limit", "1000", "--rate-period", "1", *more]


def _import(folder: Path, *more: str) -> list[str]:
    rows = folder / "rows.jsonl"
    rows.write_text('{"user_id": "u1", "name": "Ann"}\n', encoding="utf-8")
    return ["import", "customers", "--in", str(rows), "--rate-limit", "1000", *more]


EVERY_COMMAND = pytest.mark.parametrize(
    "command", [_sync, _export, _import], ids=["sync", "export", "import"]
)


@pytest.mark.parametrize("command", [_sync, _export], ids=["sync", "export"])
def test_the_base_url_falls_back_to_the_environment_as_the_clients_does(
    command: Callable[..., list[str]],
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Both ignored HELPCRUNCH_BASE_URL: their --base-url defaulted to the real API.
    emulator = helpcrunch_emulator_factory(customers=5, account=Account(agents=3))
    monkeypatch.setenv("HELPCRUNCH_API_KEY", emulator.api_key)
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", emulator.base_url)
    assert main([*command(tmp_path), "--progress", "off"]) == 0
    assert {e.path for e in emulator.log} == {"/v1/agents"}


@EVERY_COMMAND
def test_a_bad_base_url_in_the_environment_is_a_usage_error_naming_it(
    command: Callable[..., list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "k")
    monkeypatch.setenv("HELPCRUNCH_BASE_URL", "http://example.com/v1")
    assert main(command(tmp_path)) == 2
    assert "HELPCRUNCH_BASE_URL" in capsys.readouterr().err


@EVERY_COMMAND
def test_a_redis_key_without_a_redis_url_is_refused(
    command: Callable[..., list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The sync ignored it: a budget named and never shared.
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "k")
    argv = [*command(tmp_path), "--base-url", "http://127.0.0.1:1/v1", "--redis-key", "team"]
    assert main(argv) == 2
    assert "--redis-key names a budget in Redis: it needs --redis-url" in capsys.readouterr().err


@pytest.mark.parametrize("command", [_sync, _export], ids=["sync", "export"])
def test_the_key_on_the_command_line_is_taken_with_a_warning(
    command: Callable[..., list[str]],
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The sync refused --api-key as an unknown option.
    emulator = helpcrunch_emulator_factory(customers=5, account=Account(agents=3))
    monkeypatch.delenv("HELPCRUNCH_API_KEY", raising=False)
    argv = [*command(tmp_path), "--base-url", emulator.base_url, "--progress", "off"]
    assert main([*argv, "--api-key", emulator.api_key]) == 0
    err = capsys.readouterr().err
    assert "warning: --api-key shows the key" in err
    assert emulator.api_key not in err


@EVERY_COMMAND
def test_the_help_shows_the_one_exit_code_table(
    command: Callable[..., list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command(tmp_path), "--help"]) == 0
    assert HELP_TEXT in capsys.readouterr().out


def test_the_renderer_writes_a_commands_own_lines_live_or_as_log_lines() -> None:
    logged = io.StringIO()
    display = ProgressDisplay(logged, live=False, interval=2.0)
    display.show("12 requests")
    display.say("loading")
    assert logged.getvalue() == "progress: 12 requests\nloading\n"
    assert display.period == 2.0
    live = io.StringIO()
    display = ProgressDisplay(live, live=True, interval=2.0)
    display.show("12 requests")
    display.say("loading")
    # The live line is cleared before a line of its own, so the two never mix.
    assert live.getvalue() == "\r\x1b[2K12 requests\r\x1b[2Kloading\n"


def test_the_sync_stops_at_a_pause_longer_than_max_rate_limit_wait(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The sync had no such option: a long Retry-After held the whole run.
    emulator = helpcrunch_emulator_factory(
        customers=500, policy="fixed", rate_limit=3, rate_period=1.0
    )
    monkeypatch.setenv("HELPCRUNCH_API_KEY", emulator.api_key)
    argv = [*_sync(tmp_path, only="customers"), "--base-url", emulator.base_url]
    assert main([*argv, "--rate-limit", "50", "--max-rate-limit-wait", "0"]) == 5
    err = capsys.readouterr().err
    assert "error: the sync stopped:" in err
    assert "429" in err


@pytest.mark.parametrize(
    "first",
    [
        "helpcrunch_async._export.run",
        "helpcrunch_async._import.command",
        "helpcrunch_async._cli.exit_codes",
        "helpcrunch_async.testing._cli",
    ],
)
def test_a_module_that_takes_the_exit_codes_can_be_imported_before_the_command_line(
    first: str,
) -> None:
    # They import _cli.exit_codes, and the commands import them: _cli must load
    # without its commands, or the first of these to be imported half-loads.
    code = (
        f"import {first}\n"
        "from helpcrunch_async._cli import main\n"
        "raise SystemExit(main(['export', 'agents', '--help']))\n"
    )
    done = subprocess.run(  # noqa: S603 -- our own interpreter, a fixed script
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert HELP_TEXT in done.stdout
