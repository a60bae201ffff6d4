"""``listen`` and ``sync --live`` options: a bad one is a usage error naming it, up front."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpcrunch_async._cli import main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

SECRET = "whsec-never-printed-41"  # noqa: S105 -- a made-up signing key


def test_listen_refuses_a_missing_or_empty_secret_file_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.secret"
    assert main(["listen", "--port", "0", "--secret-file", str(missing)]) == 2
    assert "nope.secret" in capsys.readouterr().err
    empty = tmp_path / "empty.secret"
    empty.write_text("\n", encoding="utf-8")
    assert main(["listen", "--port", "0", "--secret-file", str(empty)]) == 2
    assert "is empty" in capsys.readouterr().err
    secret = tmp_path / "hook.secret"
    secret.write_text(SECRET, encoding="utf-8")
    assert main(["listen", "--port", "70000", "--secret-file", str(secret)]) == 2
    err = capsys.readouterr().err
    assert "--port" in err
    assert SECRET not in err
    assert not (tmp_path / "helpcrunch_sync.dlt").exists()


def test_sync_live_needs_its_server_options_and_they_need_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HELPCRUNCH_API_KEY", "sk-live-cli")
    monkeypatch.chdir(tmp_path)
    assert main(["sync", "--live", "--quiet"]) == 2
    assert "--live needs --port P and --secret-file F" in capsys.readouterr().err
    assert main(["sync", "--port", "8080", "--quiet"]) == 2
    assert "--port goes with --live" in capsys.readouterr().err
    assert main(["sync", "--inbox", "--only", "agents", "--quiet"]) == 2
    assert "--only needs both" in capsys.readouterr().err
    assert main(["sync", "--refresh-days", "-1", "--quiet"]) == 2
    assert "--refresh-days" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
