"""The cap under jitter on the way in: does any client bunch arrivals past it?

The emulator (``sliding``, 20 requests per 1 s, 0.05 s latency) holds each request
0 to ``J`` seconds before it stamps its arrival and counts it, as a network path or a
gateway's queue would; sends spaced a window apart may then arrive closer. Each
client scans 150 pages in its own process against its own emulator process, all
side by side, at J = 0, 0.05 and 0.1 s. Reported from the emulators' logs: wall
time, 429s, and the most arrivals in any 1 s window (every attempt counted; the cap
is 20).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from benchmarks._procs import EmulatorProcess, WorkerProcess
from benchmarks.cap_efficiency import CONCURRENCY, PAGE, clients
from helpcrunch_async.testing import max_in_any_window

POLICY = "sliding"
RATE_LIMIT = 20
RATE_PERIOD = 1.0
LATENCY = 0.05
PAGES = 150
JITTERS = (0.0, 0.05, 0.1)


async def _one_level(jitter: float) -> dict[str, Any]:
    names = clients()
    async with contextlib.AsyncExitStack() as stack:
        emus = {
            name: await stack.enter_async_context(
                EmulatorProcess(
                    customers=PAGES * PAGE,
                    policy=POLICY,
                    rate_limit=RATE_LIMIT,
                    rate_period=RATE_PERIOD,
                    latency=LATENCY,
                    arrival_jitter=jitter,
                )
            )
            for name in names
        }
        workers = {name: await stack.enter_async_context(WorkerProcess()) for name in names}

        async def one(name: str) -> dict[str, Any]:
            result = await workers[name].run(
                {
                    "op": "scan",
                    "client": name,
                    "base_url": emus[name].base_url,
                    "rate_limit": RATE_LIMIT,
                    "rate_period": RATE_PERIOD,
                    "concurrency": CONCURRENCY,
                    "time_budget": None,
                }
            )
            log = await emus[name].log()
            return {
                "client": name,
                "jitter": jitter,
                "wall": float(result["wall"]),
                "rejected": sum(1 for e in log if int(e["status"]) == 429),
                "max_in_window": max_in_any_window([float(e["time"]) for e in log], RATE_PERIOD),
            }

        return {"rows": await asyncio.gather(*(one(name) for name in names))}


async def measure() -> dict[str, Any]:
    """Run every client at each jitter level; return one row per client and level."""
    rows: list[dict[str, Any]] = []
    for jitter in JITTERS:
        rows += (await _one_level(jitter))["rows"]
    ours = [r for r in rows if r["client"] == "ours"]
    return {
        "rows": rows,
        "ours_never_over": all(r["max_in_window"] <= RATE_LIMIT for r in ours),
        "ours_rejected": sum(r["rejected"] for r in ours),
    }


def run(quick: bool) -> dict[str, Any]:  # noqa: ARG001 -- about 30 s in both modes
    """Measure every client under arrival jitter."""
    return asyncio.run(measure())


def table(result: dict[str, Any]) -> str:
    """Render the result as a markdown table."""
    labels = {"ours": "helpcrunch-async", "literal": "AsyncLimiter + gather"}
    lines = [
        (
            f"{PAGES} pages, `{POLICY}` {RATE_LIMIT} per {RATE_PERIOD:g} s, {LATENCY:g} s latency; "
            "each request waits 0 to J s on the way in before the emulator counts it."
        ),
        "",
        "| J s | client | wall s | 429s | most in any window |",
        "|---:|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['jitter']:g} | {labels.get(r['client'], r['client'] + ' loop')} | "
        f"{r['wall']:.2f} | {r['rejected']} | {r['max_in_window']}/{RATE_LIMIT} |"
        for r in result["rows"]
    ]
    verdict = "yes" if result["ours_never_over"] else "**no**"
    lines += [
        "",
        (
            f"helpcrunch-async never over the cap: {verdict}; its 429s in all levels: "
            f"{result['ours_rejected']}."
        ),
    ]
    return "\n".join(lines)
