"""Cap efficiency: wall time against the ideal schedule, 429s, and the most in any window.

For each emulator rate policy (sliding, fixed, token-bucket, no-burst), with and
without ``Retry-After``, at 0.05 s and 0.4 s latency, in compressed time, two scans:

- ``burst``: 40 pages (4,000 customers) under 40 requests per 1 s, a budget that
  holds the whole scan, so only latency and concurrency should bound it (and the
  pacing itself under ``no-burst``);
- ``long``: a few hundred pages (300; 50 in quick mode) under 20 requests per 1 s.

Quick mode runs the 0.05 s latency only, and extrapolates the sequential loop of the
issue 3 comparison from its first 3 s; full mode runs everything to the end.

The benchmarks' period stands for HelpCrunch's minute, so the emulator's
``Retry-After`` is compressed with it: rounded up to sixtieths of the period (one
second stands for a minute, so a sixtieth of it for a second), sent as a decimal.

Every client runs in a process of its own against an emulator process of its own
(the emulator's command line), all clients of one scenario side by side at the same
time. Each emulator is reconfigured between scenarios (a fresh policy state) and its
request log read back after each: the 429s and the most requests in any window come
from the server's own arrival times, not from the client's word.

The ideal (`benchmarks.ideal`) is computed for the policy, the scan's pages, the
default concurrency of 8, and the latency plus the emulator's measured round trip
at zero latency; under ``fixed`` it starts at the phase of the clock window the run
actually started in. Targets of issue 3 (d), for our client: zero 429s and >= 95%
of the ideal under sliding and token-bucket, zero 429s and >= 85% under fixed,
>= 90% with at most ``concurrency`` 429s under no-burst; and in the burst scan of
issue 3 (40 pages, 0.3 s latency) >= 6x a sequential loop.

The sequential loop is given a time budget per run (it is bound by the round trip,
never by the cap, at these latencies): past it, its wall time is extrapolated from
the pages it did fetch, and marked so.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from benchmarks._procs import EmulatorProcess, WorkerProcess
from benchmarks.ideal import ideal_schedule, sequential_wall
from helpcrunch_async.testing import max_in_any_window

POLICIES = ("sliding", "fixed", "token-bucket", "no-burst")
LATENCIES = (0.05, 0.4)
CONCURRENCY = 8
PAGE = 100
# Issue 3 (d): (most 429s allowed, least share of the ideal throughput).
TARGETS = {
    "sliding": (0, 0.95),
    "token-bucket": (0, 0.95),
    "fixed": (0, 0.85),
    "no-burst": (CONCURRENCY, 0.90),
}
BURST_TARGET = 6.0
# The benchmarks' period stands for HelpCrunch's minute: times on the server scale by this.
COMPRESSION = 60


@dataclass(frozen=True, slots=True)
class Scan:
    """One scan shape: pages, and the cap it runs under."""

    name: str
    pages: int
    rate_limit: int
    rate_period: float


def scans(quick: bool) -> tuple[Scan, Scan]:
    """Return the burst-sized scan and the long scan for this mode."""
    return Scan("burst", 40, 40, 1.0), Scan("long", 50 if quick else 300, 20, 1.0)


def clients() -> tuple[str, ...]:
    """Return the clients compared: ours first, then the baselines."""
    return ("ours", "literal", "sequential")


@dataclass(frozen=True, slots=True)
class Scenario:
    """One cell of the grid: a scan under one policy, latency and Retry-After setting."""

    scan: Scan
    policy: str
    retry_after: bool
    latency: float


async def calibrate(emu: EmulatorProcess) -> float:
    """Return the emulator's own cost of one round of requests, at zero latency.

    A round is ``CONCURRENCY`` page requests sent at once, as a scan sends them
    once the first page is in; the emulator is single-threaded, so the last answer
    of a round comes back later than the first. The median over two passes of the
    dataset (the second pass counts, so one-off work such as building the
    synthetic customers' pools does not) is added to the latency of the ideal:
    an ideal client needs the server's answers too, but spends nothing of its own.
    """
    await emu.configure(policy="none", latency=0.0)
    headers = {"Authorization": "Bearer test-key"}
    times: list[float] = []
    async with aiohttp.ClientSession(headers=headers) as session:

        async def fetch(offset: int) -> None:
            params = {"offset": offset, "limit": PAGE}
            async with session.get(f"{emu.base_url}/customers", params=params) as response:
                await response.read()

        for _ in range(2):
            times.clear()
            for first in range(0, emu.customers, PAGE * CONCURRENCY):
                start = time.perf_counter()
                offsets = range(first, min(emu.customers, first + PAGE * CONCURRENCY), PAGE)
                await asyncio.gather(*(fetch(offset) for offset in offsets))
                times.append(time.perf_counter() - start)
    return statistics.median(times)


async def run_one(
    client: str,
    emu: EmulatorProcess,
    worker: WorkerProcess,
    scenario: Scenario,
    *,
    service: float,
    time_budget: float | None,
    cutoff: float,
) -> dict[str, Any]:
    """Run one client through one scenario; return its row.

    The sequential loop stops after ``time_budget`` seconds (None: never) and its wall
    time is extrapolated; any other client is stopped after ``cutoff`` seconds and
    reported as not finished.
    """
    scan = scenario.scan
    await emu.configure(
        policy=scenario.policy,
        rate_limit=scan.rate_limit,
        rate_period=scan.rate_period,
        retry_after=scenario.retry_after,
        # A minute compressed into one period: Retry-After compressed with it.
        retry_after_resolution=scan.rate_period / COMPRESSION,
        latency=scenario.latency,
        window_origin=0.0,
    )
    await emu.reset_log()
    result = await worker.run(
        {
            "op": "scan",
            "client": client,
            "base_url": emu.base_url,
            "rate_limit": scan.rate_limit,
            "rate_period": scan.rate_period,
            "concurrency": CONCURRENCY,
            "time_budget": time_budget if client == "sequential" else max(time_budget or 0, cutoff),
        }
    )
    log = await emu.log()
    return summarise(client, scenario, result, log, service=service)


def summarise(
    client: str,
    scenario: Scenario,
    result: dict[str, Any],
    log: list[dict[str, Any]],
    *,
    service: float,
) -> dict[str, Any]:
    """Turn a worker's result and the emulator's log into one row of the table."""
    scan = scenario.scan
    expected = scan.pages * PAGE
    wall = float(result["wall"])
    if not result["complete"] and client == "sequential" and result["customers"]:
        # A loop bound by the round trip: its rate so far is its rate.
        wall = wall * expected / result["customers"]
    times = [float(e["time"]) for e in log]
    accepted = [float(e["time"]) for e in log if e["accepted"]]
    phase = (times[0] % scan.rate_period) if times else 0.0
    ideal = ideal_schedule(
        scenario.policy,
        limit=scan.rate_limit,
        period=scan.rate_period,
        pages=scan.pages,
        concurrency=CONCURRENCY,
        latency=scenario.latency + service,
        phase=phase,
    )
    row: dict[str, Any] = {
        "scan": scan.name,
        "pages": scan.pages,
        "rate_limit": scan.rate_limit,
        "rate_period": scan.rate_period,
        "policy": scenario.policy,
        "retry_after": scenario.retry_after,
        "latency": scenario.latency,
        "client": client,
        "customers": result["customers"],
        "complete": result["complete"],
        "wall": wall,
        "ideal": ideal.wall,
        "of_ideal": ideal.wall / wall if wall > 0 else math.nan,
        "requests": len(log),
        "rejected": sum(1 for e in log if e["status"] == 429),
        "max_accepted": max_in_any_window(accepted, scan.rate_period),
        "max_sent": max_in_any_window(times, scan.rate_period),
        "first": result["first"],
        "phase": phase,
    }
    if "stats" in result:
        row["stats"] = result["stats"]
    if client == "ours":
        most_429, least = TARGETS[scenario.policy]
        row["target"] = f"<= {most_429} 429s, >= {least:.0%}"
        row["met"] = (
            row["rejected"] <= most_429
            and row["of_ideal"] >= least
            and row["max_sent"] <= scan.rate_limit
        )
    return row


async def run_scenario(
    scenario: Scenario,
    names: tuple[str, ...],
    emus: dict[tuple[str, str], EmulatorProcess],
    workers: dict[str, WorkerProcess],
    *,
    service: float,
    time_budget: float | None,
    cutoff: float,
) -> list[dict[str, Any]]:
    """Run the named clients side by side, each against its own emulator."""
    rows = await asyncio.gather(
        *(
            run_one(
                name,
                emus[name, scenario.scan.name],
                workers[name],
                scenario,
                service=service,
                time_budget=time_budget,
                cutoff=cutoff,
            )
            for name in names
        )
    )
    return list(rows)


def _say(text: str) -> None:
    print(f"  [cap] {text}", flush=True)


async def measure(quick: bool, *, only_policies: tuple[str, ...] = POLICIES) -> dict[str, Any]:
    """Run the whole grid, the burst comparison of issue 3 and the isolation check."""
    names = clients()
    burst, long = scans(quick)
    budget = 2.5 if quick else 20.0
    cutoff = 10.0 if quick else 45.0
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        emus: dict[tuple[str, str], EmulatorProcess] = {}
        for name in names:
            for scan in (burst, long):
                emus[name, scan.name] = await stack.enter_async_context(
                    EmulatorProcess(customers=scan.pages * PAGE)
                )
        workers = {name: await stack.enter_async_context(WorkerProcess()) for name in names}
        service = await calibrate(emus["ours", long.name])
        _say(f"emulator round trip at zero latency: {service * 1000:.2f} ms")
        rows: list[dict[str, Any]] = []
        for scan in (burst, long):
            for latency in LATENCIES[:1] if quick else LATENCIES:
                for policy in only_policies:
                    for retry_after in (True, False):
                        scenario = Scenario(scan, policy, retry_after, latency)
                        found = await run_scenario(
                            scenario,
                            names,
                            emus,
                            workers,
                            service=service,
                            time_budget=budget,
                            cutoff=cutoff,
                        )
                        rows += found
                        ours = found[0]
                        _say(
                            f"{scan.name} {policy:12} RA={retry_after!s:5} L={latency}: ours "
                            f"{ours['wall']:.2f}s ({ours['of_ideal']:.0%} of ideal, "
                            f"{ours['rejected']} 429s)"
                        )
        # Issue 3: 40 pages, 0.3 s latency, a budget that holds them all, default concurrency.
        issue3 = Scenario(burst, "sliding", retry_after=True, latency=0.3)
        burst_rows = await run_scenario(
            issue3,
            names,
            emus,
            workers,
            service=service,
            time_budget=3.0 if quick else None,
            cutoff=cutoff,
        )
        by_client = {row["client"]: row for row in burst_rows}
        speedup = by_client["sequential"]["wall"] / by_client["ours"]["wall"]
        _say(f"issue 3 burst: ours is {speedup:.2f}x the sequential loop")
        # Isolation: ours alone, to show that running the clients side by side
        # does not distort what is measured.
        check = Scenario(long, "sliding", retry_after=True, latency=0.05)
        alone = await run_scenario(
            check, ("ours",), emus, workers, service=service, time_budget=budget, cutoff=cutoff
        )
    side_by_side = next(
        r
        for r in rows
        if r["client"] == "ours"
        and r["scan"] == "long"
        and r["policy"] == "sliding"
        and r["retry_after"]
        and r["latency"] == 0.05
    )
    return {
        "clients": list(names),
        "scans": {
            s.name: {"pages": s.pages, "rate": f"{s.rate_limit}/{s.rate_period:g}s"}
            for s in (burst, long)
        },
        "service_seconds": service,
        "sequential_budget": budget,
        "cutoff": cutoff,
        "rows": rows,
        "issue3": {
            "rows": burst_rows,
            "speedup": speedup,
            "ideal_speedup": sequential_wall(burst.pages, 0.3)
            / ideal_schedule(
                "sliding",
                limit=burst.rate_limit,
                period=burst.rate_period,
                pages=burst.pages,
                concurrency=CONCURRENCY,
                latency=0.3,
            ).wall,
            "target": BURST_TARGET,
            "met": speedup >= BURST_TARGET and by_client["ours"]["rejected"] == 0,
        },
        "isolation": {
            "alongside": side_by_side["wall"],
            "alone": alone[0]["wall"],
        },
        "seconds": time.monotonic() - started,
    }


def run(quick: bool) -> dict[str, Any]:
    """Measure cap efficiency; return the rows, the burst comparison and the verdicts."""
    return asyncio.run(measure(quick))
