"""Shared budget: four processes, one API key, one cap (issue 6).

Four client processes export customers from one emulator (``sliding`` policy,
compressed time: R requests per W seconds) side by side, twice:

- ``RedisBudget``: all four share one budget through a real ``redis-server``
  started here on a free loopback port;
- ``LocalBudget`` each: every process keeps its own in-process budget of R per
  W, as four web workers would without a shared budget.

The numbers come from the emulator's request log (arrival times and statuses):
requests, 429s, the most requests in any W window (429s included: every attempt
counts), and the combined useful throughput ``(answered - R) / (last arrival -
first arrival)`` against the ideal R per W (a sliding log that starts empty
sends R at once, then R per W), where answered requests exclude 429s. Target: the
shared budget reaches >= 90% of the ideal with zero 429s. The margin is 5% of W:
four processes, the emulator and Redis share a few CPUs here, and scheduling
jitter does not shrink with compressed time.

Run: ``python -m benchmarks.shared_budget [--full]`` (quick: about 25 s).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import subprocess
import sys
import time
from typing import Any

from benchmarks._procs import ROOT, EmulatorProcess
from helpcrunch_async.testing import max_in_any_window

RATE, PERIOD, MARGIN, WORKERS = 20, 1.0, 0.05, 4
TARGET = 0.90
_NO_PERSISTENCE = ("--save", "", "--appendonly", "no")

CLIENT = """
import asyncio, sys
from helpcrunch_async import HelpCrunch, LocalBudget
from helpcrunch_async._redis.budget import RedisBudget

async def main(base, mode, url, key, limit, period, margin, workers):
    if mode == "redis":
        budget = await RedisBudget.connect(url, key, limit=limit, period=period,
                                           margin=margin, fallback_workers=workers)
    else:
        budget = LocalBudget(limit, period, margin=margin)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    async with HelpCrunch("test-key", base_url=base, rate_budget=budget,
                          backoff=0.05, max_backoff=1.0, max_retries=100) as client:
        async with client.customers.iter_all() as it:
            count = sum([1 async for _ in it])
    if mode == "redis":
        await budget.aclose()
    print(count, flush=True)

a = sys.argv[1:]
asyncio.run(main(a[0], a[1], a[2], a[3], int(a[4]), float(a[5]), float(a[6]), int(a[7])))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Redis:
    """A throwaway redis-server on loopback, without persistence."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(  # noqa: S603 -- a fixed argument list
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", *_NO_PERSISTENCE],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.01)
        self.close()
        raise RuntimeError("redis-server did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()


async def _scenario(
    emu: EmulatorProcess, redis_url: str, mode: str, customers: int
) -> dict[str, Any]:
    await emu.configure(policy="sliding", rate_limit=RATE, rate_period=PERIOD)
    await emu.reset_log()
    key = f"bench-{time.monotonic_ns()}"
    argv = [emu.base_url, mode, redis_url, key, str(RATE), str(PERIOD), str(MARGIN)]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CLIENT,
            *argv,
            str(WORKERS),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        for _ in range(WORKERS)
    ]
    for proc in procs:
        assert proc.stdout is not None  # noqa: S101 -- piped just above
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if line != b"ready\n":
            raise RuntimeError(f"a client did not start: {line!r}")
    for proc in procs:  # go, all at once
        assert proc.stdin is not None  # noqa: S101 -- piped just above
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
    outs = await asyncio.gather(*(p.communicate() for p in procs))
    for proc, (_, err) in zip(procs, outs, strict=True):
        if proc.returncode != 0:
            raise RuntimeError(f"a client failed: {err.decode()[-2000:]}")
    counts = [int(out.split()[-1]) for out, _ in outs]
    log = await emu.log()
    times = sorted(float(e["time"]) for e in log)
    span = times[-1] - times[0]
    accepted = sum(1 for e in log if int(e["status"]) != 429)
    throughput = (accepted - RATE) / span * PERIOD if span > 0 else float("nan")
    return {
        "budget": "RedisBudget (shared)" if mode == "redis" else "LocalBudget each",
        "processes": WORKERS,
        "complete": all(c == customers for c in counts),
        "requests": len(times),
        "rejected": sum(1 for e in log if int(e["status"]) == 429),
        "max_in_window": max_in_any_window(times, PERIOD),
        "span": span,
        "throughput": throughput,
        "of_ideal": throughput / RATE,
    }


async def _run(quick: bool) -> dict[str, object]:
    pages = 40 if quick else 100
    customers = pages * 100
    redis = _Redis()
    try:
        async with EmulatorProcess(
            customers=customers, policy="sliding", rate_limit=RATE, rate_period=PERIOD
        ) as emu:
            rows = [await _scenario(emu, redis.url, mode, customers) for mode in ("redis", "local")]
    finally:
        redis.close()
    shared = rows[0]
    return {
        "rate": f"{RATE} per {PERIOD:g} s",
        "margin": MARGIN,
        "pages_per_process": pages,
        "rows": rows,
        "target": TARGET,
        "met": bool(
            shared["complete"]
            and shared["rejected"] == 0
            and shared["max_in_window"] <= RATE
            and shared["of_ideal"] >= TARGET
        ),
    }


def run(quick: bool) -> dict[str, object]:
    """Run both scenarios; return the rows and whether the shared budget met its target."""
    return asyncio.run(_run(quick))


def table(result: dict[str, Any]) -> str:
    """Render the result as a markdown table."""
    intro = (
        f"{WORKERS} processes, {result['pages_per_process']} pages each, emulator `sliding` "
        f"at {result['rate']}, margin {result['margin']:g} s; ideal: {RATE} per "
        f"{PERIOD:g} s combined."
    )
    lines = [
        intro,
        "",
        "| budget | requests | 429s | most in any window | span | answered per window | of ideal |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['budget']} | {r['requests']} | {r['rejected']} | {r['max_in_window']} "
        f"(cap {RATE}) | {r['span']:.2f} s | {r['throughput']:.1f} | {r['of_ideal']:.0%} |"
        for r in result["rows"]
    ]
    verdict = "met" if result["met"] else "NOT met"
    target = (
        f"Target: the shared budget >= {result['target']:.0%} of the ideal with zero 429s: "
        f"{verdict}."
    )
    lines += ["", target]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="100 pages per process")
    print(table(run(quick=not parser.parse_args().full)))
