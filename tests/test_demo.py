"""``helpcrunch-async demo``: the README's first command, at a smaller size."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from export_fixtures import cli_env, jsonl_records

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow


def test_demo_exports_the_emulated_account_and_says_where(tmp_path: Path) -> None:
    out = tmp_path / "demo-output" / "customers.jsonl"
    out.parent.mkdir()
    out.write_text("an old demo run\n")
    done = subprocess.run(
        [sys.executable, "-m", "helpcrunch_async", "demo", "--customers", "2500"],
        cwd=tmp_path,
        env=cli_env(key=None),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    records = jsonl_records(out)
    assert len(records) == 2500
    assert len({r["id"] for r in records}) == 2500
    assert "2,500 customers" in done.stderr
    assert "complete:" in done.stderr
    assert "requests" in done.stderr
