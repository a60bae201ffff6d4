"""``helpcrunch-async demo``: the README's first command, at a smaller size."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from export_fixtures import cli_env, jsonl_records

pytestmark = pytest.mark.slow


def test_demo_exports_the_emulated_account_and_says_where(tmp_path: Path) -> None:
    out = tmp_path / "demo-output" / "customers.jsonl"
    out.parent.mkdir()
    out.write_text("an old demo run\n")
    # As after `make demo`: the command is in .venv/bin, which is not on the PATH.
    env = cli_env(key=None)
    env["PATH"] = os.pathsep.join(
        folder
        for folder in env.get("PATH", "").split(os.pathsep)
        if folder and Path(folder).resolve() != Path(sys.executable).parent.resolve()
    )
    done = subprocess.run(
        [sys.executable, "-m", "helpcrunch_async", "demo", "--customers", "2500"],
        cwd=tmp_path,
        env=env,
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
    # The closing hint names a command that this shell can run as it is.
    hint = done.stderr.rstrip().splitlines()[-1].split("HELPCRUNCH_API_KEY=... ")[1]
    command = shlex.split(hint.split(" export customers")[0])
    helped = subprocess.run(  # noqa: S603 -- the demo's own hint, run as a user would
        [*command, "export", "customers", "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert helped.returncode == 0, (hint, helped.stderr)
