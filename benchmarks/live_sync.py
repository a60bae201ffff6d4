"""Live sync: a day of announced changes as webhooks, against the nightly sync and --full.

An emulator (in this process, on its own thread) holds the account (``--full``: the
documentation's 754,698 customers; quick: 20,000) behind a compressed cap, and
delivers its webhooks to a ``helpcrunch-async sync --live`` subprocess. After a first
sync, the mirror's folder is copied twice (one copy per competitor), then a day of
changes arrives over ``DAY`` seconds: 1% of the customers edited through announced
events that move no timestamp (an email, and a name beside it that no event
mentions), 0.1% new, 50 deleted, 1% of the chats active (new messages, closed,
reassigned). Then:

1. ``sync --live`` applies them as they come; its progress lines give each batch's
   lag (how long its oldest event waited); its requests come from the emulator log;
2. the nightly ``sync`` (no inbox) on copy 1;
3. ``sync --full`` on copy 2.

Each mirror is checked against the emulator: customers missing or extra, and edited
customers whose email or name is stale. Requests per changed record = the run's
requests / the records the day changed.

Targets (issue 19): exact for every announced change, lag under a minute at the
median, at most 2 requests per changed customer.

Run: ``python -m benchmarks.live_sync [--full]``.
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from benchmarks._procs import ROOT, _env
from helpcrunch_async.dlt.command import SyncOptions, run_sync
from helpcrunch_async.testing import RetrySchedule, Subscription, WebhookSettings
from helpcrunch_async.testing._thread import ThreadedEmulator

RATE, PERIOD = 2000, 1.0
KEY = "bench-key"
SECRET = "whsec-bench"  # noqa: S105 -- a made-up signing key
# The compressed day, in seconds.
DAY = 20.0
DELETED = 50
INBOX = "webhooks.sqlite3"


def _sizes(quick: bool, customers: int | None = None) -> dict[str, int]:
    if customers is not None:
        return {"customers": customers, "chats": max(100, customers // 50)}
    return {"customers": 20_000, "chats": 400} if quick else {"customers": 754_698, "chats": 20_000}


def _options(base_url: str, folder: Path, **more: Any) -> SyncOptions:
    return SyncOptions(
        api_key=KEY,
        base_url=base_url,
        duckdb_file=folder / "mirror.duckdb",
        pipelines_dir=folder / "pipelines",
        rate_limit=RATE,
        rate_period=PERIOD,
        concurrency=16,
        **more,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _live(base_url: str, folder: Path, port: int) -> subprocess.Popen[str]:
    secret = folder / "hook.secret"
    secret.write_text(SECRET, encoding="utf-8")
    env = {**_env(), "HELPCRUNCH_API_KEY": KEY, "PYTHONUNBUFFERED": "1"}
    args = [
        *("sync", "--live", "--port", str(port), "--secret-file", str(secret)),
        *("--duckdb-file", str(folder / "mirror.duckdb"), "--inbox", str(folder / INBOX)),
        *("--pipelines-dir", str(folder / "pipelines"), "--base-url", base_url),
        *("--rate-limit", str(RATE), "--rate-period", str(PERIOD), "--batch-seconds", "1"),
    ]
    return subprocess.Popen(  # noqa: S603 -- our own command line
        [sys.executable, "-m", "helpcrunch_async", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def _day(emulator: ThreadedEmulator, sizes: dict[str, int], rng: random.Random) -> dict[str, Any]:
    """Make a day of changes spread over DAY seconds; return what changed."""
    ids = emulator.expected_ids()
    edited = rng.sample(ids, sizes["customers"] // 100)
    gone = rng.sample([i for i in ids if i not in set(edited)], DELETED)
    chats = rng.sample(emulator.expected_chat_ids(), max(3, sizes["chats"] // 100))
    steps: list[Any] = [
        *(("edit", i) for i in edited),
        *(("delete", i) for i in gone),
        *(("new", None) for _ in range(sizes["customers"] // 1000)),
        *(("chat", c) for c in chats),
    ]
    rng.shuffle(steps)
    new: list[int] = []
    started = time.monotonic()
    for n, (kind, target) in enumerate(steps):
        if kind == "edit":
            emulator.edit_customer(
                target, "customer.email_updated", email=f"e{target}@x.test", name=f"N{target}"
            )
        elif kind == "delete":
            emulator.delete(ids=[target])
        elif kind == "new":
            new += emulator.insert(1, "end")
        elif n % 3 == 0:
            emulator.add_messages(target, 1)
        elif n % 3 == 1:
            emulator.close_chat(target)
        else:
            emulator.reassign_chat(target, None)
        # Spread over the compressed day.
        pause = started + DAY * (n + 1) / len(steps) - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    return {"edited": edited, "gone": gone, "new": new, "chats": chats}


def _wait_applied(inbox: Path, events: int, timeout: float) -> None:
    """Wait until ``events`` events are applied and settled (none waits)."""
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(inbox) as db:
            (done,) = db.execute("SELECT COUNT(*) FROM webhook_done").fetchone()
            (left,) = db.execute("SELECT COUNT(*) FROM webhook_inbox").fetchone()
        if done >= events and not left:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{done} of {events} events applied, {left} waiting")
        time.sleep(0.2)


def _check(folder: Path, emulator: ThreadedEmulator, day: dict[str, Any]) -> dict[str, int]:
    with duckdb.connect(str(folder / "mirror.duckdb"), read_only=True) as con:
        rows = {
            i: (email, name)
            for i, email, name in con.execute(
                "select id, email, name from helpcrunch.customers"
            ).fetchall()
        }
    truth = set(emulator.expected_ids())
    stale = sum(1 for i in day["edited"] if rows.get(i) != (f"e{i}@x.test", f"N{i}"))
    return {
        "missing": len(truth - set(rows)),
        "extra": len(set(rows) - truth),
        "stale_edits": stale,
    }


def run(quick: bool, customers: int | None = None) -> dict[str, Any]:
    """Run the benchmark (``customers`` overrides the size); return its numbers."""
    sizes = _sizes(quick, customers)
    port = _free_port()
    hook = Subscription(f"http://127.0.0.1:{port}/helpcrunch/webhooks", SECRET)
    settings = WebhookSettings(schedule=RetrySchedule(delays=(0.5,) * 60), timeout=10.0)
    with (
        tempfile.TemporaryDirectory() as tmp,
        ThreadedEmulator(
            customers=sizes["customers"],
            chats=sizes["chats"],
            api_key=KEY,
            seed=3,
            webhooks=[hook],
            webhook_settings=settings,
            timeout=120.0,
        ) as emulator,
    ):
        live, nightly, full = (Path(tmp) / name for name in ("live", "nightly", "full"))
        live.mkdir()
        run_sync(_options(emulator.base_url, live))
        shutil.copytree(live, nightly)
        shutil.copytree(live, full)
        process = _live(emulator.base_url, live, port)
        lines: list[str] = []
        try:
            assert process.stdout is not None  # noqa: S101 -- piped above
            lines.append(process.stdout.readline())  # the URL: listening
            # The start-up run (a cheap incremental one) before the day begins.
            while "full run" not in lines[-1]:
                lines.append(process.stdout.readline())
            emulator.reset_log()
            day = _day(emulator, sizes, random.Random(7))
            emulator.webhooks_settled(600.0)
            events = {r.event_id for r in emulator.deliveries if r.outcome == "delivered"}
            _wait_applied(live / INBOX, len(events), 600.0)
        finally:
            process.send_signal(signal.SIGTERM)
            rest, _ = process.communicate(timeout=120)
            lines += (rest or "").splitlines()
        live_requests = len(emulator.log)
        live_check = _check(live, emulator, day)
        emulator.reset_log()
        run_sync(_options(emulator.base_url, nightly))
        nightly_requests = len(emulator.log)
        nightly_check = _check(nightly, emulator, day)
        emulator.reset_log()
        run_sync(_options(emulator.base_url, full, full=True))
        full_requests = len(emulator.log)
        full_check = _check(full, emulator, day)
    found = [_lag(line) for line in lines if "[live] batch" in line]
    lags = [lag for lag in found if lag is not None]
    changed = len(day["edited"]) + len(day["gone"]) + len(day["new"]) + len(day["chats"])
    return {
        "customers": sizes["customers"],
        "chats": sizes["chats"],
        "changed_records": changed,
        "changed_customers": len(day["edited"]) + len(day["gone"]) + len(day["new"]),
        "day_s": DAY,
        "live": {"requests": live_requests, **live_check, "batches": len(lags)},
        "lag_median_s": statistics.median(lags) if lags else None,
        # Nearest rank: with fewer than 100 batches, the largest lag.
        "lag_p99_s": sorted(lags)[math.ceil(0.99 * len(lags)) - 1] if lags else None,
        "nightly": {"requests": nightly_requests, **nightly_check},
        "full": {"requests": full_requests, **full_check},
    }


def _lag(line: str) -> float | None:
    # The live line names the lag after "lag " in seconds ("lag 1.2s"), "-" when none.
    if "lag " not in line or "lag -" in line:
        return None
    return float(line.split("lag ", 1)[1].split("s", 1)[0])


def table(result: dict[str, Any]) -> str:
    """Render the result as a Markdown table."""
    changed = result["changed_records"]
    rows = [
        ("sync --live (the day as it came)", result["live"]),
        ("nightly sync (no inbox)", result["nightly"]),
        ("sync --full", result["full"]),
    ]
    head = (
        f"{result['customers']:,} customers, {result['chats']:,} chats; a day of "
        f"{changed:,} changed records ({result['changed_customers']:,} customers) "
        f"compressed into {result['day_s']:.0f} s; cap {RATE} per {PERIOD} s."
    )
    lines = [
        head,
        "",
        "| run | requests | per changed record | missing | extra | stale announced edits |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in rows:
        lines.append(
            f"| {name} | {row['requests']:,} | {row['requests'] / changed:.2f} | "
            f"{row['missing']} | {row['extra']} | {row['stale_edits']} |"
        )
    median, p99 = result["lag_median_s"], result["lag_p99_s"]
    lag = (
        f"Lag under --live ({result['live']['batches']} batches, the oldest event of each): "
        f"median {median} s, p99 {p99} s (compressed time: the day is {result['day_s']:.0f} s)."
    )
    lines += ["", lag]
    return "\n".join(lines)


def main() -> None:
    """Run from the command line and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the 754,698-customer account")
    parser.add_argument("--customers", type=int, metavar="N", help="another account size")
    args = parser.parse_args()
    print(table(run(quick=not args.full, customers=args.customers)))


if __name__ == "__main__":
    main()
