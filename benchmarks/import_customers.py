"""Import: N rows (80% existing customers, 20% new) against the per-row loop users write.

Two emulator processes hold the same account (seeded through the API before
the cap is switched on: ``0.8 N`` customers with unique ``userId``), behind a
sliding cap in compressed time (R requests per W seconds; the request counts do
not depend on the compression). Into one, `import customers` applies a JSONL
file of N rows: every existing customer gets a new name, notes and one custom
data property (worst case: no row is unchanged), and ``0.2 N`` rows are new.
Into the other, the loop that integrations write today applies the same rows:
for each row, search by its key, then ``customers.update`` or
``customers.create``, one row after another, on the same client and cap.

Reported for each: requests (every attempt the emulator logged, 429s included),
429s, wall time, and whether the account ended with one customer per key.
Target (issue 17): ours at most 20% of the loop's requests.

The emulator answers a search of k userIds from its key index (it costs the
customers that match, not all n); its writes still run in Python, so wall times
depend on its CPU as well as on the cap: compare the request counts.

Run: ``python -m benchmarks.import_customers [--full]`` (quick: 1,000 rows).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._procs import EmulatorProcess
from helpcrunch_async import Filter, HelpCrunch
from helpcrunch_async._import.engine import ImportOptions, import_file

RATE, PERIOD = 200, 1.0
CONCURRENCY = 16
TARGET = 0.20
KEY = "test-key"
# Seeding and the runs are bounded: a stuck emulator must not hold the machine.
LIMIT = 1800.0


def _rows(total: int) -> list[dict[str, Any]]:
    existing = total * 8 // 10
    return [
        {
            "userId": f"old-{n}" if n < existing else f"new-{n}",
            "email": f"c{n}@example.org",
            "name": f"Imported {n}",
            "notes": f"row {n}",
            "customData": [{"property": "Plan", "value": "Pro"}],
        }
        for n in range(total)
    ]


async def _seed(emulator: EmulatorProcess, existing: int) -> None:
    async with HelpCrunch(
        KEY, base_url=emulator.base_url, rate_limit=1_000_000, rate_period=1.0
    ) as client:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(n: int) -> None:
            async with gate:
                await client.customers.create(
                    user_id=f"old-{n}",
                    email=f"c{n}@example.org",
                    name=f"Old {n}",
                    company="Before",
                    custom_data={"Plan": "Free", "Keep": n},
                )

        await asyncio.gather(*(one(n) for n in range(existing)))
    await emulator.configure(policy="sliding", rate_limit=RATE, rate_period=PERIOD)
    await emulator.reset_log()


async def _ours(emulator: EmulatorProcess, source: Path) -> None:
    options = ImportOptions(
        source=source,
        format="jsonl",
        match="user_id",
        mode="upsert",
        api_key=KEY,
        base_url=emulator.base_url,
        rate_limit=RATE,
        rate_period=PERIOD,
        concurrency=CONCURRENCY,
    )
    result = await import_file(options)
    if result.state != "complete" or result.counts.rejected:
        raise RuntimeError(f"the import ended {result.state}: {result.counts}")


async def _loop(emulator: EmulatorProcess, rows: list[dict[str, Any]]) -> None:
    async with HelpCrunch(
        KEY, base_url=emulator.base_url, rate_limit=RATE, rate_period=PERIOD
    ) as client:
        for row in rows:
            fields = {
                "name": row["name"],
                "email": row["email"],
                "notes": row["notes"],
                "custom_data": {i["property"]: i["value"] for i in row["customData"]},
            }
            where = [Filter("customers.userId", "=", row["userId"])]
            page = await client.customers.search(where, limit=2)
            if page.data:
                await client.customers.update(page.data[0].id, **fields)
            else:
                await client.customers.create(user_id=row["userId"], **fields)


async def _measure(name: str, rows: list[dict[str, Any]], source: Path) -> dict[str, Any]:
    # No chats either: the standalone emulator serves 100 by default, and they need customers.
    async with EmulatorProcess(customers=0, chats=0, api_key=KEY) as emulator:
        await _seed(emulator, len(rows) * 8 // 10)
        started = time.monotonic()
        if name == "ours":
            await asyncio.wait_for(_ours(emulator, source), LIMIT)
        else:
            await asyncio.wait_for(_loop(emulator, rows), LIMIT)
        wall = time.monotonic() - started
        log = await emulator.log()
        async with HelpCrunch(
            KEY, base_url=emulator.base_url, rate_limit=RATE, rate_period=PERIOD
        ) as client:
            total = await client.customers.count()
    return {
        "client": name,
        "rows": len(rows),
        "requests": len(log),
        "rejected": sum(1 for entry in log if entry["status"] == 429),
        "wall": wall,
        "customers_after": total,
        "one_per_key": total == len(rows),
    }


def run(quick: bool) -> dict[str, Any]:
    """Measure ours and the loop on the same rows; see the module docstring."""
    total = 1_000 if quick else 10_000
    rows = _rows(total)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "rows.jsonl"
        source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        measured = [asyncio.run(_measure(name, rows, source)) for name in ("ours", "loop")]
    ours, loop = measured
    ratio = ours["requests"] / loop["requests"]
    return {
        "rate": f"{RATE} per {PERIOD:g} s",
        "rows": measured,
        "ratio": ratio,
        "target": TARGET,
        "met": ratio <= TARGET and ours["one_per_key"] and loop["one_per_key"],
    }


def table(result: dict[str, Any]) -> str:
    """Render the result as Markdown."""
    lines = [
        (
            f"Sliding cap {result['rate']} (compressed time). "
            f"Rows: 80% existing customers (each changed), 20% new."
        ),
        "",
        "| client | rows | requests | 429s | wall | customers after | one per key |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['client']} | {r['rows']:,} | {r['requests']:,} | {r['rejected']} "
        f"| {r['wall']:.1f} s | {r['customers_after']:,} | {r['one_per_key']} |"
        for r in result["rows"]
    ]
    verdict = "met" if result["met"] else "NOT met"
    lines += [
        "",
        (
            f"Ours: {result['ratio']:.1%} of the loop's requests (target <= "
            f"{result['target']:.0%}): {verdict}."
        ),
    ]
    return "\n".join(lines)


def main() -> int:
    """Run from the command line and print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.import_customers")
    parser.add_argument("--full", action="store_true", help="10,000 rows (quick: 1,000)")
    args = parser.parse_args()
    print(table(run(quick=not args.full)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
