"""How fast the emulator serves pages, and how much memory a million customers take.

The emulator runs in its own process (``python -m helpcrunch_async.testing``), the
client here with aiohttp, so the two share the machine's cores the way a real test run
does. Phases, over one dataset of 1,000,000 customers:

1. a full scan of fresh pages in id order (nothing cached can help: every customer is
   generated on the spot), with a few requests in flight;
2. random pages, some of them repeated (the encoded-customer cache's best case);
3. the first request sorted by ``lastSeen``, which builds that sort's permutation (timed
   apart), then sorted pages in descending order;
4. searches by many ids joined with OR (the sync's and the import's lookups), answered
   by the emulator's indexes, against the same ids OR'ed with one condition no index
   answers (a name that nobody has), which makes the emulator test every customer: the
   same answer, before and after the index, as a ratio of the server's CPU per search.

The server's peak memory is its ``VmHWM`` from ``/proc/PID/status`` after all phases.

Drift, in this process on a ``Dataset`` of 100,000 customers: 300 inserted at the
start and 300 deleted at random places of the ``firstSeen`` order, then ten pages
read across it. Its baseline, in the same run, is what a server without the lazy
merge would pay after each change: building that sort's permutation once.
Target: the drift and its pages under a second, and well under one rebuild.
Wall-clock rates depend on what else the machine runs (the load average is reported);
the server's CPU time per page, read from ``/proc/PID/stat``, does not.
Targets: at least 1,000 pages of 100 customers a second; under 200 MB for the million.

Run ``python benchmarks/emulator_throughput.py`` (full: 1,000,000 customers, 22,000
pages, about a minute) or ``--quick`` (same dataset, fewer pages, under 20 seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from helpcrunch_async.testing import Dataset

if TYPE_CHECKING:
    from collections.abc import Iterable

CUSTOMERS = 1_000_000
PAGE = 100
IN_FLIGHT = 6
TARGET_PAGES_PER_S = 1_000
TARGET_MEMORY_MB = 200
DRIFT_CUSTOMERS = 100_000
DRIFT_CHANGES = 300  # inserted, then as many deleted
TARGET_DRIFT_S = 1.0
KEY = "bench-key"
# Ids a search in phase 4, and how many searches: the linear ones cost seconds each.
SEARCH_IDS = {True: 5, False: 20}
INDEXED_SEARCHES = 20
# A name no customer has: a condition no index answers.
NOBODY = "\u2400 nobody"


async def _start_server(customers: int) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "helpcrunch_async.testing",
        "--port",
        "0",
        "--customers",
        str(customers),
        "--api-key",
        KEY,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None  # noqa: S101 -- we asked for a pipe
    line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
    match = re.fullmatch(r"listening on (\S+)\n", line)
    if match is None:
        process.kill()
        await process.wait()
        raise RuntimeError(f"the emulator did not start: {line!r}")
    return process, match.group(1)


async def _fetch_all(
    session: aiohttp.ClientSession, base_url: str, queries: Iterable[dict[str, str]]
) -> tuple[int, int, float]:
    """GET every query with ``IN_FLIGHT`` workers; return (pages, bytes, seconds)."""
    pending = iter(queries)
    pages = 0
    size = 0

    async def worker() -> None:
        nonlocal pages, size
        for query in pending:
            async with session.get(base_url + "/customers", params=query) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{response.status} for {query}: {body[:200]!r}")
            pages += 1
            size += len(body)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    return pages, size, time.perf_counter() - started


async def _searches(
    session: aiohttp.ClientSession, base_url: str, pid: int, bodies: list[dict[str, object]]
) -> tuple[float, int]:
    """POST each body in turn; return the server's CPU seconds per search and the last total."""
    total = -1
    cpu = _cpu_seconds(pid)
    for body in bodies:
        async with session.post(base_url + "/customers/search", json=body) as response:
            answer = await response.json()
            if response.status != 200:
                raise RuntimeError(f"{response.status} for a search: {answer}")
        total = answer["total"]
    return (_cpu_seconds(pid) - cpu) / len(bodies), total


async def _search_phase(
    session: aiohttp.ClientSession, base_url: str, pid: int, ids: int, rng: random.Random
) -> dict[str, object]:
    """Phase 4: indexed searches of ``ids`` ids against the linear one answering the same."""

    async def some_id() -> int:
        query = {"offset": str(rng.randrange(CUSTOMERS)), "limit": "1"}
        async with session.get(base_url + "/customers", params=query) as response:
            page = await response.json()
        found: int = page["data"][0]["id"]
        return found

    def body(wanted: list[int], *more: dict[str, object]) -> dict[str, object]:
        conditions = [{"field": "customers.id", "operator": "=", "value": i} for i in wanted]
        return {"filter": [*conditions, *more], "comparison": "OR"}

    nobody: dict[str, object] = {"field": "customers.name", "operator": "=", "value": NOBODY}
    pool = [await some_id() for _ in range(100)]
    sets = [rng.sample(pool, ids) for _ in range(INDEXED_SEARCHES)]
    indexed, total = await _searches(session, base_url, pid, [body(w) for w in sets])
    linear, linear_total = await _searches(session, base_url, pid, [body(sets[-1], nobody)])
    if linear_total != total:
        raise RuntimeError(f"the linear search found {linear_total}, the indexed {total}")
    hundred, _ = await _searches(
        session, base_url, pid, [body(rng.sample(pool, 100)) for _ in range(INDEXED_SEARCHES)]
    )
    return {
        "search_ids": ids,
        "search_indexed_server_ms": round(indexed * 1000, 2),
        "search_linear_server_ms": round(linear * 1000, 1),
        "search_linear_over_indexed": round(linear / max(indexed, 1e-6)),
        "search_100_ids_indexed_server_ms": round(hundred * 1000, 2),
    }


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _memory_mb(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    found = dict(re.findall(r"^(VmHWM|VmRSS):\s+(\d+) kB", status, flags=re.MULTILINE))
    return {name: round(int(kb) / 1024, 1) for name, kb in found.items()}


async def _measure(quick: bool) -> dict[str, object]:
    fresh_pages = 4_000 if quick else CUSTOMERS // PAGE
    random_pages = 2_000 if quick else 10_000
    sorted_pages = 1_000 if quick else 2_000
    started = time.perf_counter()
    process, base_url = await _start_server(CUSTOMERS)
    startup = time.perf_counter() - started
    rng = random.Random(0)
    try:
        headers = {"Authorization": f"Bearer {KEY}"}
        connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(
            headers=headers, connector=connector, timeout=timeout
        ) as session:
            await _fetch_all(session, base_url, ({"limit": "1"} for _ in range(IN_FLIGHT)))
            server_cpu = _cpu_seconds(process.pid)
            client_cpu = time.process_time()
            fresh = await _fetch_all(
                session, base_url, ({"offset": str(o * PAGE)} for o in range(fresh_pages))
            )
            server_cpu = _cpu_seconds(process.pid) - server_cpu
            client_cpu = time.process_time() - client_cpu
            hot = [str(rng.randrange(CUSTOMERS // PAGE) * PAGE) for _ in range(random_pages // 4)]
            repeated = await _fetch_all(
                session, base_url, ({"offset": rng.choice(hot)} for _ in range(random_pages))
            )
            sort = {"sort": "customers.lastSeen", "order": "desc", "limit": "1"}
            build = await _fetch_all(session, base_url, [sort])
            by_last_seen = await _fetch_all(
                session,
                base_url,
                (
                    {"sort": "customers.lastSeen", "order": "desc", "offset": str(o * PAGE)}
                    for o in range(sorted_pages)
                ),
            )
            searched = await _search_phase(session, base_url, process.pid, SEARCH_IDS[quick], rng)
        memory = _memory_mb(process.pid)
    finally:
        process.terminate()
        exit_code = await asyncio.wait_for(process.wait(), 30)
    pages = fresh[0] + repeated[0] + build[0] + by_last_seen[0]
    fresh_rate = fresh[0] / fresh[2]
    return {
        "customers": CUSTOMERS,
        "in_flight": IN_FLIGHT,
        "pages": pages,
        "server_startup_s": round(startup, 2),
        "fresh_scan_pages": fresh[0],
        "fresh_scan_pages_per_s": round(fresh_rate),
        "fresh_scan_mb_per_s": round(fresh[1] / fresh[2] / 1e6, 1),
        # What one free core gives the server, whatever else the machine is doing.
        "fresh_scan_server_cpu_us_per_page": round(server_cpu / fresh[0] * 1e6),
        "fresh_scan_server_cpu_bound_pages_per_s": round(fresh[0] / server_cpu),
        "fresh_scan_client_cpu_us_per_page": round(client_cpu / fresh[0] * 1e6),
        "repeated_pages_per_s": round(repeated[0] / repeated[2]),
        "sort_build_s": round(build[2], 2),
        "sorted_pages_per_s": round(by_last_seen[0] / by_last_seen[2]),
        **searched,
        "server_peak_rss_mb": memory.get("VmHWM"),
        "server_rss_mb": memory.get("VmRSS"),
        "server_exit_code": exit_code,
        "meets_pages_target": fresh_rate >= TARGET_PAGES_PER_S,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "meets_memory_target": memory.get("VmHWM", float("inf")) < TARGET_MEMORY_MB,
    }


def _drift_cost() -> dict[str, object]:
    """Time a drift and ten pages across it against one build of the sort it changes."""
    sort = "customers.firstSeen"
    data = Dataset(DRIFT_CUSTOMERS, seed=1)
    started = time.perf_counter()
    data.ids(sort)  # the permutation: what a rebuild after each change would cost
    build = time.perf_counter() - started
    started = time.perf_counter()
    data.insert(DRIFT_CHANGES, "start")
    data.delete(DRIFT_CHANGES, "random", sort=sort)
    for offset in range(0, DRIFT_CUSTOMERS, DRIFT_CUSTOMERS // 10):
        data.refs(offset, PAGE, sort, descending=False)
    drift = time.perf_counter() - started
    return {
        "drift_customers": DRIFT_CUSTOMERS,
        "drift_sort_build_s": round(build, 3),
        "drift_changes_and_10_pages_s": round(drift, 3),
        "drift_of_one_sort_build": round(drift / build, 3),
        "meets_drift_target": drift < TARGET_DRIFT_S and drift < build,
    }


def run(quick: bool) -> dict[str, object]:
    """Measure the emulator's throughput and memory; ``quick`` stays under 20 seconds."""
    return {**asyncio.run(_measure(quick)), **_drift_cost()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pages, under 20 s")
    print(json.dumps(run(parser.parse_args().quick), indent=2))
