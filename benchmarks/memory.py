"""Memory: peak RSS of the client process streaming 30,000, 300,000 and 1,000,000 customers.

The emulator runs in a process of its own (``--policy none``, no latency); each size
is streamed by a fresh client process (peak RSS is a high-water mark for the life
of a process), which keeps no customer, only counts them. The table shows the RSS
after the client's imports, the peak, and the peak's growth over the 30,000 run.
Targets of issue 3 (d)(c): under 150 MB at 1,000,000 customers, and at most 40 MB
above the 30,000 run (dedup must not cost a Python int and a set slot per customer).
Quick mode skips the million.
"""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks._procs import EmulatorProcess, WorkerProcess

TARGET_PEAK_MB = 150.0
TARGET_GROWTH_MB = 40.0
NO_CAP = 1_000_000


def _mb(kb: int) -> float:
    return kb / 1024


async def measure(quick: bool) -> dict[str, Any]:
    """Stream each size in a fresh process; return imports-only and peak RSS per size."""
    sizes = (30_000, 300_000) if quick else (30_000, 300_000, 1_000_000)
    rows: list[dict[str, Any]] = []
    for size in sizes:
        async with (
            EmulatorProcess(customers=size, policy="none", latency=0.0) as emu,
            WorkerProcess() as worker,
        ):
            command = {
                "client": "ours",
                "base_url": emu.base_url,
                "rate_limit": NO_CAP,
                "rate_period": 1.0,
                "concurrency": 8,
                "time_budget": None,
            }
            before = await worker.run({**command, "op": "rss"})
            result = await worker.run({**command, "op": "scan"})
        if result["customers"] != size:
            raise RuntimeError(f"streamed {result['customers']} of {size} customers")
        rows.append(
            {
                "customers": size,
                "imports_mb": _mb(before["current_kb"]),
                "peak_mb": _mb(result["rss_kb"]),
                "wall": result["wall"],
            }
        )
    base = rows[0]["peak_mb"]
    for row in rows:
        row["growth_mb"] = row["peak_mb"] - base
    largest = rows[-1]
    million = largest["customers"] >= 1_000_000
    return {
        "rows": rows,
        "target_peak_mb": TARGET_PEAK_MB,
        "target_growth_mb": TARGET_GROWTH_MB,
        "million_run": million,
        "met": (
            million
            and largest["peak_mb"] < TARGET_PEAK_MB
            and largest["growth_mb"] <= TARGET_GROWTH_MB
        )
        if million
        else None,
    }


def run(quick: bool) -> dict[str, Any]:
    """Measure peak RSS per dataset size."""
    return asyncio.run(measure(quick))
