"""Shared by the export tests: run the real command line as a subprocess, read its output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

# Distinctive, so a leak into any output is unmistakable.
SECRET_KEY = "sk-live-NEVER-PRINT-ME-4f9a"  # noqa: S105 -- a test key, made to be searched for
CLI = (sys.executable, "-m", "helpcrunch_async")


def cli_env(key: str | None = SECRET_KEY) -> dict[str, str]:
    """Return the environment for a CLI subprocess, with ``key`` as HELPCRUNCH_API_KEY."""
    env = dict(os.environ)
    env.pop("HELPCRUNCH_API_KEY", None)
    if key is not None:
        env["HELPCRUNCH_API_KEY"] = key
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(
    *args: str, key: str | None = SECRET_KEY, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m helpcrunch_async ARGS`` to the end (bounded by ``timeout``)."""
    return subprocess.run(  # noqa: S603 -- our own interpreter and module, fixed arguments
        [*CLI, *args],
        env=cli_env(key),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(
    *args: str,
    stderr: Path,
    key: str | None = SECRET_KEY,
    python_flags: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """Start ``python [python_flags] -m helpcrunch_async ARGS``, stderr going to ``stderr``."""
    python, *module = CLI
    with stderr.open("wb") as err:
        return subprocess.Popen(  # noqa: S603 -- as in run_cli
            [python, *python_flags, *module, *args],
            env=cli_env(key),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def wait_for_text(path: Path, text: str, timeout: float) -> bool:
    """Wait until the file at ``path`` contains ``text``; False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        time.sleep(0.02)
    return False


def export_args(out: Path, base_url: str, *extra: str, kind: str = "customers") -> list[str]:
    """Return the arguments of an export of ``kind`` from ``base_url`` into ``out``."""
    return ["export", kind, "--out", str(out), "--base-url", base_url, *extra]


def jsonl_records(path: Path) -> list[dict[str, Any]]:
    """Return the records of a JSONL file."""
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def checkpoint(path: Path) -> dict[str, Any]:
    """Return the checkpoint beside the output ``path``."""
    saved: dict[str, Any] = json.loads(path.with_name(path.name + ".checkpoint.json").read_text())
    return saved
