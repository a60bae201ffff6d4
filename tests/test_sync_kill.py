"""A sync killed with SIGKILL and run again ends with the tables an uninterrupted one makes.

After a first sync, the real command runs in a subprocess against the emulator
on loopback, under a compressed cap so that its requests take a while, and is
killed twice: in the middle of a sync's requests (nothing of it may stick: dlt
commits the state only with a load package), and once a sync's requests are
over, while dlt normalises and loads (the package, cursors included, waits in
the pipeline folder and is loaded by the next run before anything is extracted).
After each resumed run every table equals the emulator's data, which is what an
uninterrupted sync gives (see test_sync_mirror).
"""

from __future__ import annotations

import signal
import subprocess
import time
from typing import TYPE_CHECKING

import dlt
import pytest
from export_fixtures import CLI, cli_env
from sync_fixtures import mirror, sync, truth

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator

pytestmark = pytest.mark.slow

KEY = "sk-kill-test"


def _args(emulator: ThreadedEmulator, folder: Path) -> list[str]:
    return [
        *CLI,
        "sync",
        "--duckdb-file",
        str(folder / "mirror.duckdb"),
        "--pipelines-dir",
        str(folder / "pipelines"),
        "--base-url",
        emulator.base_url,
        "--rate-limit",
        "40",
        "--rate-period",
        "1",
        "--quiet",
    ]


def _wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def _pending(folder: Path) -> bool:
    pipeline = dlt.pipeline("helpcrunch_sync", pipelines_dir=str(folder / "pipelines"))
    return bool(pipeline.has_pending_data)


def test_a_killed_sync_resumes_to_the_same_tables(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    emulator = helpcrunch_emulator_factory(customers=1_500, chats=20, seed=8, api_key=KEY)
    sync(emulator, tmp_path)

    # A sync killed in the middle of its requests: nothing of it may stick.
    emulator.visit(count=200)
    emulator.insert(150, "random")
    emulator.reset_log()
    process = subprocess.Popen(  # noqa: S603 -- our own command line
        _args(emulator, tmp_path), env=cli_env(KEY), stdout=subprocess.DEVNULL
    )
    _wait_for(lambda: len(emulator.log) >= 6, timeout=60)
    _kill(process)
    assert not _pending(tmp_path)
    sync(emulator, tmp_path)
    assert mirror(tmp_path) == truth(emulator)

    # A sync killed once its requests are done, while dlt normalises or loads.
    emulator.visit(count=20)
    emulator.delete(3, "random")
    chat_ids = emulator.expected_chat_ids()
    emulator.add_messages(chat_ids[3], 2)
    emulator.close_chat(chat_ids[4])
    emulator.reset_log()
    process = subprocess.Popen(  # noqa: S603 -- our own command line
        _args(emulator, tmp_path), env=cli_env(KEY), stdout=subprocess.DEVNULL
    )
    _wait_for(lambda: len(emulator.log) >= 5, timeout=60)
    quiet_since = time.monotonic()
    seen = len(emulator.log)
    while time.monotonic() - quiet_since < 0.3:
        if len(emulator.log) != seen:
            seen, quiet_since = len(emulator.log), time.monotonic()
        time.sleep(0.02)
    assert process.poll() is None
    _kill(process)
    assert _pending(tmp_path)
    sync(emulator, tmp_path)
    assert mirror(tmp_path) == truth(emulator)
