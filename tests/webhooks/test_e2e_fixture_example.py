"""``examples/test_webhooks_fixture.py`` passes in a user's project, warnings as errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parent.parent.parent / "examples" / "test_webhooks_fixture.py"
# What a user's project needs for the plugin's fixtures under pytest-asyncio: nothing more.
CONFIG = '[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n'


def test_the_fixture_example_passes_in_a_users_project(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(CONFIG, encoding="utf-8")
    shutil.copy(EXAMPLE, tmp_path / EXAMPLE.name)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed" in done.stdout
