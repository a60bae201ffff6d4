"""Run every benchmark and write RESULTS.md and the plot: ``python -m benchmarks --quick``.

``--quick`` runs the small sizes, ``--full`` every size (a little over an hour on 2 cores);
``--only NAME`` (repeatable) runs some parts. Parts are modules of this package with
``run(quick) -> dict``; those written by other work (decode, emulator throughput,
shared budget) are imported the same way and reported with their own ``table`` (or
``_table``) function when they have one. A part that fails, or is not there yet, is
reported as such and the others still run. RESULTS.md is rewritten after each part,
so an interrupted run leaves what it measured.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import _report

if TYPE_CHECKING:
    from types import ModuleType

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
PICTURE = HERE / "requests_over_time.png"

# (module, title), in the order they run and appear.
PARTS = (
    ("cap_efficiency", "Cap efficiency: wall time against the ideal schedule"),
    ("no_burst", "No-burst servers: one 429, and the share of the ideal"),
    ("decode", "Decode: customers per second"),
    ("client_cost", "Client cost: CPU per customer, time to first customer"),
    ("memory", "Memory: peak RSS while streaming"),
    ("plot", "Requests over time"),
    ("arrival_jitter", "The cap under arrival jitter"),
    ("emulator_throughput", "Emulator throughput"),
    ("shared_budget", "Shared budget"),
    ("fanout", "Fan-out: the messages of many chats"),
    ("sync", "Sync: an incremental dlt sync against a full pass"),
    ("gzip_bomb", "A gzip bomb: peak RSS with the body bound"),
    ("webhooks", "Webhooks: verified events per second, dedup memory"),
    ("import_customers", "Import: rows against the per-row loop"),
    ("live_sync", "Live sync: webhooks into the mirror"),
)
NAMES = tuple(name for name, _ in PARTS)


def _tenths(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"


def _load(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"benchmarks.{name}")
    except ModuleNotFoundError as error:
        if error.name == f"benchmarks.{name}":
            return None
        raise


def _render(name: str, module: ModuleType, result: dict[str, Any]) -> str:
    if name in _report.RENDERERS:
        return _report.RENDERERS[name](result)
    for attribute in ("table", "_table"):
        table = getattr(module, attribute, None)
        if callable(table):
            try:
                return str(table(result))
            except Exception:  # noqa: BLE001 -- fall back to the generic table below
                break
    return _report.generic(result)


def _headlines(results: dict[str, dict[str, Any]]) -> list[str]:
    """The numbers a reader wants first, with their targets (issue 3 d unless named)."""
    out = ["| what | measured | target (issue 3 d) | verdict |", "|---|---|---|---|"]
    cap = results.get("cap_efficiency")
    if cap:
        rows = cap["rows"]
        for policy in ("sliding", "token-bucket", "fixed", "no-burst"):
            mine = [r for r in rows if r["client"] == "ours" and r["policy"] == policy]
            if not mine:
                continue
            worst = min(r["of_ideal"] for r in mine)
            median = sorted(r["of_ideal"] for r in mine)[len(mine) // 2]
            out.append(
                f"| ours vs ideal, {policy} | median {median:.0%}, worst {worst:.0%}; "
                f"most 429s {max(r['rejected'] for r in mine)} | {mine[0]['target']} "
                f"| {_report.verdict(all(r['met'] for r in mine))} |"
            )
        for name in cap["clients"][1:]:
            pairs = [
                (r, o)
                for r in rows
                if r["client"] == name
                for o in rows
                if o["client"] == "ours"
                and (o["scan"], o["policy"], o["retry_after"], o["latency"])
                == (r["scan"], r["policy"], r["retry_after"], r["latency"])
            ]
            faster = sorted(r["wall"] / o["wall"] for r, o in pairs)
            over = sum(1 for r, _ in pairs if r["max_sent"] > r["rate_limit"])
            out.append(
                f"| ours vs {_report.LABELS.get(name, name)} | ours faster by median "
                f"{faster[len(faster) // 2]:.2f}x (range {faster[0]:.2f}-{faster[-1]:.2f}x); "
                f"it sent {sum(r['rejected'] for r, _ in pairs)} requests that got 429, and "
                f"went over the cap in {over} of {len(pairs)} runs | - | - |"
            )
        issue3 = cap["issue3"]
        out.append(
            f"| burst scan (40 pages, 0.3 s) vs sequential | {issue3['speedup']:.2f}x "
            f"(ideal {issue3['ideal_speedup']:.2f}x) | >= {issue3['target']:g}x "
            f"| {_report.verdict(issue3['met'])} |"
        )
    decode = results.get("decode")
    if decode and "vs_json_loads" in decode:
        out.append(
            f"| typed decode vs json.loads / pydantic v2 | {decode['vs_json_loads']:.2f}x / "
            f"{decode['vs_pydantic']:.2f}x | >= 3x / >= 5x "
            f"| {_report.verdict(decode.get('targets_met'))} |"
        )
    cost = results.get("client_cost")
    if cost:
        ours = cost["clients"]["ours"]
        out.append(
            f"| client CPU per customer (no cap, no latency) | {ours['us_per_customer']:.2f} µs; "
            f"first customer {ours['first_ms']:.1f} ms | <= 10 µs "
            f"| {_report.verdict(cost['met'])} |"
        )
    memory = results.get("memory")
    if memory:
        last = memory["rows"][-1]
        out.append(
            f"| peak RSS streaming {last['customers']:,} | {last['peak_mb']:.0f} MB, "
            f"{last['growth_mb']:+.0f} MB over 30,000 | < 150 MB at 1M, <= +40 MB "
            f"| {_report.verdict(memory['met'])} |"
        )
    fanout = results.get("fanout")
    if fanout:
        t = fanout["throughput"]
        out.append(
            f"| messages of {t['chats']:,} chats, sliding 20/1 s, 0.25 s latency "
            f"| {t['of_ideal']:.0%} of ideal, {t['ours']['rejected']} 429s, at most "
            f"{t['ours']['max_in_window']} in any window; {t['speedup']:.1f}x a sequential loop "
            f"| >= 95%, 0 429s, <= 20 (issue 11) | {_report.verdict(t['met'])} |"
        )
        rows = fanout["memory"]["rows"]
        out.append(
            f"| peak RSS streaming messages of {rows[-1]['chats']:,} chats "
            f"| {rows[-1]['peak_mb']:.0f} MB, {rows[-1]['growth_mb']:+.0f} MB over "
            f"{rows[0]['chats']:,} | <= +40 MB at 100,000 (issue 11) "
            f"| {_report.verdict(fanout['memory']['met'])} |"
        )
    imported = results.get("import_customers")
    if imported:
        ours, loop = imported["rows"]
        out.append(
            f"| import of {ours['rows']:,} rows (80% existing, 20% new) vs the per-row loop "
            f"| {ours['requests']:,} requests against {loop['requests']:,} "
            f"({imported['ratio']:.1%}) | <= 20% (issue 17) "
            f"| {_report.verdict(imported['met'])} |"
        )
    out += _live_sync_headlines(results.get("live_sync"))
    return out


def _live_sync_headlines(live: dict[str, Any] | None) -> list[str]:
    """The live sync's targets (issue 19): exactness, lag, requests; the refresh's price."""
    if not live:
        return []
    met = live["targets"]
    run = live["live"]
    size = f"{live['customers']:,} customers"
    out = [
        (
            f"| `sync --live`, a day of {live['changed_records']:,} changes, {size} "
            f"| missing {run['missing']}, extra {run['extra']}, stale announced edits "
            f"{run['stale_edits']:,} (nightly `sync`: {live['nightly']['stale_edits']:,}) "
            f"| exact for every announced change (issue 19) | {_report.verdict(met['exact'])} |"
        ),
        (
            f"| `sync --live` lag (compressed day of {live['day_s']:.0f} s) "
            f"| median {_tenths(live['lag_median_s'])}, p99 {_tenths(live['lag_p99_s'])} "
            f"| median < 1 min (issue 19) | {_report.verdict(met['lag_median'])} |"
        ),
        (
            f"| `sync --live` requests per changed customer "
            f"| {run['customer_requests'] / live['changed_customers']:.2f} "
            f"({run['requests']:,} requests in all; `sync --full`: {live['full']['requests']:,}) "
            f"| <= 2 (issue 19) | {_report.verdict(met['per_changed_customer'])} |"
        ),
    ]
    refresh = live.get("refresh")
    if refresh:
        out.append(
            f"| rolling refresh, `--refresh-days {refresh['days']}`, {size} "
            f"| {refresh['slice_requests']:,} requests a run ({refresh['refreshed_customers']:,}"
            f" customers re-read) for at most {refresh['days']} days stale "
            f"| its cost against its staleness (issue 19) | - |"
        )
    return out


def write(
    path: Path,
    machine: str,
    results: dict[str, dict[str, Any]],
    sections: dict[str, str],
) -> None:
    """Write the report (RESULTS.md) from what has been measured so far."""
    lines = [
        "# Benchmark results",
        "",
        (
            "Written by `python -m benchmarks`; numbers from the machine below. Benchmarks are "
            "not tests: nothing here fails a build. Every client and every emulator runs in a "
            "process of its own, over loopback; rate limits run in compressed time (20 or 40 "
            "requests per 1 s instead of 120 per 60 s)."
        ),
        "",
        "## Machine",
        "",
        machine,
        "",
        "## Headlines",
        "",
        *_headlines(results),
        "",
    ]
    for name, title in PARTS:
        if name in sections:
            lines += [f"## {title}", "", sections[name], ""]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the parts, write the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="about two minutes (the default)")
    mode.add_argument("--full", action="store_true", help="longer runs, every size")
    parser.add_argument("--only", action="append", choices=NAMES, help="run only this part")
    parser.add_argument(
        "--output",
        type=Path,
        default=HERE,
        help="directory for RESULTS.md and the PNG (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    report, picture = args.output / RESULTS.name, args.output / PICTURE.name
    quick = not args.full
    command = "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv)
    machine = _report.machine(command.strip())
    results: dict[str, dict[str, Any]] = {}
    sections: dict[str, str] = {}
    failed = False
    for name, title in PARTS:
        if args.only and name not in args.only:
            continue
        print(f"== {title} ({name})", flush=True)
        module = _load(name)
        if module is None:
            sections[name] = f"Not run: `benchmarks/{name}.py` is not there yet."
            print("   not there yet", flush=True)
            continue
        started, load_before = time.monotonic(), _report.load()
        try:
            result = module.run(quick)
            if name == "plot":
                module.draw(result, picture)
            results[name] = result
            sections[name] = _render(name, module, result)
        except Exception:  # noqa: BLE001 -- one broken part must not lose the others
            failed = True
            sections[name] = f"Failed:\n\n```\n{traceback.format_exc()}```"
        seconds = time.monotonic() - started
        sections[name] += (
            f"\n\n_{name}: {seconds:.0f} s; load average {load_before} at the start, "
            f"{_report.load()} at the end._"
        )
        print(sections[name], flush=True)
        write(report, machine, results, sections)
    write(report, machine, results, sections)
    print(f"wrote {report}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
