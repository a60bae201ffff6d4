"""Kill a real export at random moments (SIGKILL, SIGTERM), resume it, compare with a clean run.

Every kind of export is played: customers, chats, messages (chat by chat),
agents and departments. The emulator enforces a compressed rate limit (10
requests a second) and answers slowly (80 to 160 ms) to an export of two
requests in flight, so each account (4,000 records in 40 pages, or 60 chats of
one to two pages of messages each) takes at least three seconds of scanning,
and every kill lands well before the end, on any machine: the first within 1.5 s
of the start, the second within 0.5 s of a resumed scan's first progress line.
A restarted process meets the server's window still full of its predecessor's
requests, so resumes see 429s too. A crash in the middle of a write is played
by appending half a record after each SIGKILL. The finished file must equal,
byte for byte, the file of an export that was never interrupted.
"""

from __future__ import annotations

import random
import signal
import subprocess
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import pytest
from export_fixtures import SECRET_KEY, checkpoint, export_args, run_cli, start_cli, wait_for_text

from helpcrunch_async.testing import Account, Faults

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator

pytestmark = pytest.mark.slow

DATA_SEED = 11
# Each kind's account: big enough for 40 or more requests.
ACCOUNTS: dict[str, dict[str, int | Account]] = {
    "customers": {"customers": 4000},
    "chats": {"customers": 300, "chats": 4000},
    "messages": {"customers": 300, "chats": 60, "account": Account(messages_per_chat=40)},
    "agents": {"customers": 10, "account": Account(agents=4000)},
    "departments": {"customers": 10, "account": Account(agents=40, departments=4000)},
}
RATE = ("--rate-limit", "10", "--rate-period", "1", "--concurrency", "2")
# Half a record, as a write cut short by a crash leaves it.
TORN = {".jsonl": b'{"id":123,"name":"Half a rec', ".csv": b'123,"Half a record\r\nwith'}
PROGRESS = ("--progress", "log", "--progress-interval", "0.2")


def reference(
    tmp_path: Path, factory: Callable[..., ThreadedEmulator], kind: str, suffix: str
) -> bytes:
    """Export the same account from an unlimited emulator, never interrupted."""
    emulator = factory(**ACCOUNTS[kind], seed=DATA_SEED, api_key=SECRET_KEY)
    out = tmp_path / f"reference{suffix}"
    done = run_cli(*export_args(out, emulator.base_url, kind=kind))
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


def interrupt(
    out: Path,
    base_url: str,
    signum: signal.Signals,
    rng: random.Random,
    *,
    kind: str,
    resume: bool,
) -> None:
    """Start an export, send ``signum`` at a random moment, check what it left."""
    log = out.with_name(f"stderr-{rng.random():.6f}.txt")
    again = ("--resume",) if resume else ()
    args = export_args(out, base_url, *RATE, *PROGRESS, *again, kind=kind)
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
    "case",
    [
        ("customers", signal.SIGKILL, ".jsonl", 1),
        ("customers", signal.SIGKILL, ".csv", 2),
        ("customers", signal.SIGTERM, ".jsonl", 3),
        ("customers", signal.SIGTERM, ".csv", 4),
        ("chats", signal.SIGKILL, ".csv", 5),
        ("messages", signal.SIGKILL, ".jsonl", 6),
        ("messages", signal.SIGTERM, ".csv", 7),
        ("agents", signal.SIGTERM, ".jsonl", 8),
        ("departments", signal.SIGKILL, ".csv", 9),
    ],
    ids=[
        "customers-kill-jsonl",
        "customers-kill-csv",
        "customers-term-jsonl",
        "customers-term-csv",
        "chats-kill-csv",
        "messages-kill-jsonl",
        "messages-term-csv",
        "agents-term-jsonl",
        "departments-kill-csv",
    ],
)
def test_interrupted_twice_then_resumed_equals_an_uninterrupted_export(
    tmp_path: Path,
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator],
    case: tuple[str, signal.Signals, str, int],
) -> None:
    kind, signum, suffix, seed = case
    expected = reference(tmp_path, helpcrunch_emulator_factory, kind, suffix)
    emulator = helpcrunch_emulator_factory(
        **ACCOUNTS[kind],
        seed=DATA_SEED,
        api_key=SECRET_KEY,
        policy="sliding",
        rate_limit=10,
        rate_period=1.0,
        faults=Faults(latency=0.08, jitter=0.08),
    )
    rng = random.Random(seed)
    out = tmp_path / f"{kind}{suffix}"

    interrupt(out, emulator.base_url, signum, rng, kind=kind, resume=False)
    interrupt(out, emulator.base_url, signum, rng, kind=kind, resume=True)
    # Both stops landed mid-export, so the last run below resumes real work.
    saved = out.with_name(out.name + ".checkpoint.json")
    assert not (saved.exists() and checkpoint(out)["complete"])

    emulator.reset_log()
    before = checkpoint(out) if saved.exists() else None
    done = run_cli(*export_args(out, emulator.base_url, *RATE, "--resume", kind=kind), timeout=60)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == expected
    assert checkpoint(out)["complete"] is True
    if kind == "messages":
        assert_resumed_after_whole_chats(out, emulator, before)
    else:
        # The resumed scan began where the checkpoint said, not at the start.
        offsets = sorted(int(parse_qs(entry.query)["offset"][0]) for entry in emulator.log)
        assert offsets[0] == (before["records"] if before else 0)


def assert_resumed_after_whole_chats(
    out: Path, emulator: ThreadedEmulator, before: dict[str, Any] | None
) -> None:
    """The resumed run read no chat the checkpoint counted as done, and every other one."""
    chats = [int(line) for line in out.with_name(out.name + ".chats").read_text().split()]
    done = before["mark"]["position"] if before and before["chats"] else 0
    asked = {entry.path for entry in emulator.log}
    read = {int(path.split("/")[-2]) for path in asked if path.endswith("/messages")}
    assert read == set(chats[done:])
