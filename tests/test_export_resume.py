"""Kill a real export at random moments (SIGKILL, SIGTERM), resume it, compare with a clean run.

The emulator enforces a compressed rate limit (10 requests a second) and answers
slowly (80 to 160 ms) to an export of two requests in flight, so 4,000 customers
(40 pages) take at least three seconds of scanning, and every kill lands well
before the end, on any machine: the first within 1.5 s of the start, the second
within 0.5 s of a resumed scan's first progress line. A restarted process meets
the server's window still full of its predecessor's requests, so resumes see
429s too. A crash in the middle of a write is played
by appending half a record after each SIGKILL. The finished file must equal,
byte for byte, the file of an export that was never interrupted.
"""

from __future__ import annotations

import random
import signal
import subprocess
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import pytest
from export_fixtures import SECRET_KEY, checkpoint, export_args, run_cli, start_cli, wait_for_text

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator

pytestmark = pytest.mark.slow

CUSTOMERS = 4000
DATA_SEED = 11
RATE = ("--rate-limit", "10", "--rate-period", "1", "--concurrency", "2")
# Half a record, as a write cut short by a crash leaves it.
TORN = {".jsonl": b'{"id":123,"name":"Half a rec', ".csv": b'123,"Half a record\r\nwith'}
PROGRESS = ("--progress", "log", "--progress-interval", "0.2")


def reference(tmp_path: Path, factory: Callable[..., ThreadedEmulator], suffix: str) -> bytes:
    """Export the same account from an unlimited emulator, never interrupted."""
    emulator = factory(customers=CUSTOMERS, seed=DATA_SEED, api_key=SECRET_KEY)
    out = tmp_path / f"reference{suffix}"
    done = run_cli(*export_args(out, emulator.base_url))
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


def interrupt(
    out: Path, base_url: str, signum: signal.Signals, rng: random.Random, *, resume: bool
) -> None:
    """Start an export, send ``signum`` at a random moment, check what it left."""
    log = out.with_name(f"stderr-{rng.random():.6f}.txt")
    args = export_args(out, base_url, *RATE, *PROGRESS, *(("--resume",) if resume else ()))
    process = start_cli(*args, stderr=log)
    try:
        if signum == signal.SIGKILL and not resume:
            # Anywhere, start-up included.
            delay = rng.uniform(0.3, 1.5)
        else:
            # Mid-stream: the first progress line shows the scan (and, for
            # SIGTERM, the signal handlers) running.
            assert wait_for_text(log, "progress:", timeout=15), log.read_text()
            delay = rng.uniform(0.0, 0.5)
        try:
            process.wait(delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signum)
        code = process.wait(15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    stderr = log.read_text()
    assert SECRET_KEY not in stderr
    if signum == signal.SIGTERM:
        assert code == 130, stderr
        assert "--resume" in stderr
        saved = checkpoint(out)
        # A clean stop commits every whole record: nothing lies past the checkpoint.
        assert saved["bytes"] == out.stat().st_size
        assert saved["complete"] is False
    else:
        assert code == -signal.SIGKILL, stderr
        if out.exists():
            with out.open("ab") as torn:
                torn.write(TORN[out.suffix])


@pytest.mark.parametrize(
    ("signum", "suffix", "seed"),
    [
        (signal.SIGKILL, ".jsonl", 1),
        (signal.SIGKILL, ".csv", 2),
        (signal.SIGTERM, ".jsonl", 3),
        (signal.SIGTERM, ".csv", 4),
    ],
    ids=["kill-jsonl", "kill-csv", "term-jsonl", "term-csv"],
)
def test_interrupted_twice_then_resumed_equals_an_uninterrupted_export(
    tmp_path: Path,
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    signum: signal.Signals,
    suffix: str,
    seed: int,
) -> None:
    expected = reference(tmp_path, helpcrunch_emulator_factory, suffix)
    emulator = helpcrunch_emulator_factory(
        customers=CUSTOMERS,
        seed=DATA_SEED,
        api_key=SECRET_KEY,
        policy="sliding",
        rate_limit=10,
        rate_period=1.0,
        latency=0.08,
        jitter=0.08,
    )
    rng = random.Random(seed)
    out = tmp_path / f"customers{suffix}"

    interrupt(out, emulator.base_url, signum, rng, resume=False)
    interrupt(out, emulator.base_url, signum, rng, resume=True)
    # Both stops landed mid-export, so the last run below resumes real work.
    saved = out.with_name(out.name + ".checkpoint.json")
    assert not (saved.exists() and checkpoint(out)["complete"])

    emulator.reset_log()
    before = checkpoint(out)["records"] if out.exists() else 0
    done = run_cli(*export_args(out, emulator.base_url, *RATE, "--resume"), timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == expected
    assert checkpoint(out)["complete"] is True
    # The resumed scan began where the checkpoint said, not at the start.
    offsets = sorted(int(parse_qs(entry.query)["offset"][0]) for entry in emulator.log)
    assert offsets[0] == before
