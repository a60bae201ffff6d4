"""Sync: a full dlt sync, then an incremental one after drift, against a full re-export.

An emulator process holds the account (``--full``: the documentation's 754,698
customers and 100,000 chats; quick: a tenth of the customers and 2,000 chats)
behind a sliding cap in compressed time (R requests per W seconds; the request
counts do not depend on the compression). Then:

1. a first `helpcrunch-async sync` into a DuckDB file (everything);
2. drift: 1% of the customers visit, 0.1% are new, 10 are deleted, and 1% of the
   chats change (new messages, closed, reassigned, new chats);
3. a second sync (what changed), its requests counted from the emulator's log;
4. a full re-export of the customers with `customers.iter_all` (what any tool
   without reconciliation pays every night), which doubles as the truth: the
   mirror must hold exactly its ids and its ``lastSeen`` values.

Target (issue 12): the incremental sync's customer requests at most 3% of a full
pass (at most 226 for 754,698 customers), with nothing missed.

Run: ``python -m benchmarks.sync [--full]``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from benchmarks._procs import EmulatorProcess
from helpcrunch_async import HelpCrunch
from helpcrunch_async.dlt.command import SyncOptions, run_sync

RATE, PERIOD = 200, 0.25
# In flight at once: enough to keep up with a compressed cap at loopback latency.
CONCURRENCY = 32
TARGET = 0.03


def _sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {"customers": 75_470, "chats": 2_000}
    return {"customers": 754_698, "chats": 100_000}


def _sync(base_url: str, folder: Path) -> tuple[Any, float]:
    started = time.monotonic()
    report = run_sync(
        SyncOptions(
            api_key="test-key",
            base_url=base_url,
            duckdb_file=folder / "mirror.duckdb",
            pipelines_dir=folder / "pipelines",
            rate_limit=RATE,
            rate_period=PERIOD,
            concurrency=CONCURRENCY,
        )
    )
    return report, time.monotonic() - started


def _paths(log: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for entry in log:
        path = str(entry.get("path", ""))
        kind = "customers" if "/customers" in path else "chats+messages"
        if "/agents" in path or "/departments" in path:
            kind = "agents+departments"
        out[kind] = out.get(kind, 0) + 1
    return out


async def _reexport(base_url: str) -> tuple[dict[int, int | None], float, int]:
    started = time.monotonic()
    found: dict[int, int | None] = {}
    async with HelpCrunch(
        "test-key",
        base_url=base_url,
        rate_limit=RATE,
        rate_period=PERIOD,
        concurrency=CONCURRENCY,
    ) as client:
        scan = client.customers.iter_all(sort="customers.firstSeen", order="asc")
        async with scan:
            async for customer in scan:
                found[customer.id] = customer.last_seen
        requests = scan.stats.requests
    return found, time.monotonic() - started, requests


async def _run(quick: bool) -> dict[str, Any]:
    sizes = _sizes(quick)
    customers = sizes["customers"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        async with EmulatorProcess(
            customers=customers,
            chats=sizes["chats"],
            policy="sliding",
            rate_limit=RATE,
            rate_period=PERIOD,
        ) as emulator:
            first, first_wall = await asyncio.to_thread(_sync, emulator.base_url, folder)
            first_log = await emulator.log()
            await emulator.reset_log()
            changed_chats = max(1, sizes["chats"] // 100)
            await emulator._admin(  # noqa: SLF001 -- the emulator's drift route
                "POST",
                "/_emulator/drift",
                {
                    "visits": customers // 100,
                    "insert": customers // 1000,
                    "position": "random",
                    "add_chats": changed_chats // 4,
                    "add_messages": changed_chats // 4,
                    "close_chats": changed_chats // 4,
                    "reassign_chats": changed_chats // 4,
                },
            )
            await emulator._admin("POST", "/_emulator/drift", {"delete": 10, "position": "random"})  # noqa: SLF001
            second, second_wall = await asyncio.to_thread(_sync, emulator.base_url, folder)
            second_log = await emulator.log()
            await emulator.reset_log()
            truth, reexport_wall, reexport_requests = await _reexport(emulator.base_url)
        with duckdb.connect(str(folder / "mirror.duckdb"), read_only=True) as con:
            held = dict(con.execute("select id, last_seen from helpcrunch.customers").fetchall())
    full_pass = math.ceil(customers / 100)
    second_by_kind = _paths(second_log)
    missing = sorted(set(truth) - set(held))
    extra = sorted(set(held) - set(truth))
    stale = sum(1 for i, seen in truth.items() if i in held and held[i] != seen)
    return {
        "customers": customers,
        "chats": sizes["chats"],
        "rate": f"{RATE} per {PERIOD} s, concurrency {CONCURRENCY}",
        "first_sync": {
            "requests": len(first_log),
            "wall_s": round(first_wall, 1),
            "by_kind": _paths(first_log),
        },
        "second_sync": {
            "requests": len(second_log),
            "wall_s": round(second_wall, 1),
            "by_kind": second_by_kind,
            "rows": {k: vars(v) for k, v in second.tables.items()},
        },
        "full_reexport_customers": {
            "requests": reexport_requests,
            "wall_s": round(reexport_wall, 1),
        },
        "full_pass_customers_requests": full_pass,
        "customer_share_of_full_pass": second_by_kind.get("customers", 0) / full_pass,
        "target_share": TARGET,
        "missing": len(missing),
        "extra": len(extra),
        "stale_last_seen": stale,
        "first_rows": {k: vars(v) for k, v in first.tables.items()},
    }


def run(quick: bool) -> dict[str, Any]:
    """Run the benchmark; return its numbers."""
    return asyncio.run(_run(quick))


def table(result: dict[str, Any]) -> str:
    """Render the result as a Markdown table."""
    first, second = result["first_sync"], result["second_sync"]
    again = result["full_reexport_customers"]
    share = result["customer_share_of_full_pass"]
    if result["customers"] < 754_698:
        verdict = "the target is for the full account (--full); deletions cost log(N) each"
    elif share <= result["target_share"] and not result["missing"]:
        verdict = "met"
    else:
        verdict = "MISSED"
    rows = [
        (
            "first sync (everything)",
            first["requests"],
            first["by_kind"].get("customers", 0),
            first["wall_s"],
        ),
        (
            "incremental sync after drift",
            second["requests"],
            second["by_kind"].get("customers", 0),
            second["wall_s"],
        ),
        ("full re-export of the customers", again["requests"], again["requests"], again["wall_s"]),
    ]
    lines = [
        f"{result['customers']:,} customers, {result['chats']:,} chats, cap {result['rate']}.",
        "",
        "| run | requests | of which customers | wall |",
        "|---|---|---|---|",
        *(f"| {name} | {total:,} | {mine:,} | {wall} s |" for name, total, mine, wall in rows),
        "",
        (
            f"Incremental customers: {share:.1%} of a full pass "
            f"({result['full_pass_customers_requests']:,} requests); target at most "
            f"{result['target_share']:.0%}: {verdict}. Missing {result['missing']}, extra "
            f"{result['extra']}, stale lastSeen {result['stale_last_seen']}."
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    """Command line: ``python -m benchmarks.sync [--full]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="754,698 customers, 100,000 chats")
    args = parser.parse_args()
    result = run(quick=not args.full)
    sys.stdout.write(table(result) + "\n")


if __name__ == "__main__":
    main()
