"""An import killed with SIGKILL at random moments, then resumed, applies every row exactly once.

The real command runs in a subprocess against the emulator on loopback, under a
compressed cap so that its requests take a while, with small windows so that a
kill lands before, inside and between them. Each seed kills it twice at random
moments; the last ``--resume`` runs to the end. Then the emulator's own account
is read back: one customer per key (no create was sent twice), every row's fields
merged in (no row lost), and the checkpoint counts every row once.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from typing import TYPE_CHECKING

import pytest
from export_fixtures import CLI, cli_env, run_cli, start_cli, wait_for_text
from import_fixtures import KEY, assert_applied_once, import_args, journal, rows, seed, write_jsonl

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator

pytestmark = pytest.mark.slow

EXISTING, NEW = 60, 60
CAP = ("--rate-limit", "30", "--rate-period", "1", "--window", "25", "--progress", "off")


@pytest.mark.parametrize("seed_value", [1, 2, 3])
def test_killed_twice_then_resumed_applies_every_row_once(
    seed_value: int,
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    tmp_path: Path,
) -> None:
    emulator = helpcrunch_emulator_factory(customers=0, api_key=KEY)
    seed(emulator, EXISTING)
    records = rows(EXISTING, NEW)
    source = tmp_path / "rows.jsonl"
    write_jsonl(source, records)
    chance = random.Random(seed_value)
    args = import_args(source, emulator.base_url, *CAP)
    for attempt in range(2):
        extra = ("--resume",) if attempt else ()
        process = subprocess.Popen(  # noqa: S603 -- our own command line
            [*CLI, *args, *extra],
            env=cli_env(KEY),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # The whole import takes a few seconds under this cap: the kill lands anywhere.
        time.sleep(chance.uniform(0.3, 3.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    done = run_cli(*args, "--resume", key=KEY, timeout=120)
    assert done.returncode == 0, done.stderr
    assert_applied_once(emulator, records)
    counts = journal(source)["counts"]
    assert counts == {"created": NEW, "updated": EXISTING, "unchanged": 0, "rejected": 0}
    assert journal(source)["complete"] is True


def test_sigterm_stops_cleanly_and_resume_finishes(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    emulator = helpcrunch_emulator_factory(customers=0, api_key=KEY)
    seed(emulator, EXISTING)
    records = rows(EXISTING, NEW)
    source = tmp_path / "rows.jsonl"
    write_jsonl(source, records)
    args = import_args(source, emulator.base_url, *CAP)
    stderr = tmp_path / "stderr.txt"
    process = start_cli(*args, stderr=stderr, key=KEY)
    # Once the first window is settled, the import is well under way.
    assert wait_for_text(
        source.with_name(source.name + ".import.checkpoint.json"), '"lines_done": 25', 30
    )
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 130
    said = stderr.read_text(encoding="utf-8")
    assert "stopped by SIGTERM" in said
    assert "interrupted: 120 rows" in said
    assert journal(source)["complete"] is False
    done = run_cli(*args, "--resume", key=KEY, timeout=120)
    assert done.returncode == 0, done.stderr
    assert_applied_once(emulator, records)
    assert journal(source)["counts"]["created"] == NEW
