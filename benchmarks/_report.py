"""Markdown for RESULTS.md: one renderer per part, a generic one for the rest, the machine."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._procs import ROOT

if TYPE_CHECKING:
    from collections.abc import Callable

PACKAGES = (
    "helpcrunch-async",
    "aiohttp",
    "msgspec",
    "aiolimiter",
    "orjson",
    "pydantic",
    "matplotlib",
    "redis",
    "dlt",
)
LABELS = {
    "ours": "helpcrunch-async",
    "literal": "AsyncLimiter + gather",
    "sequential": "sequential loop",
    "dlt": "dlt",
}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 -- fixed arguments, no shell
            ["git", *args],  # noqa: S607 -- git from PATH, as a developer runs it
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() or "unknown"


def machine(command: str) -> str:
    """Describe the machine, the software, the date and the exact command."""
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    dirty = (
        " (with uncommitted changes)"
        if _git("status", "--porcelain", "--", "helpcrunch_async") not in {"", "unknown"}
        else ""
    )
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            f"- Date: {now}",
            f"- Command: `{command}`",
            f"- Commit: `{_git('rev-parse', '--short', 'HEAD')}`{dirty}",
            f"- CPU: {_cpu_model()}, {os.cpu_count()} cores; {platform.platform()}",
            f"- Python: {platform.python_version()} ({platform.python_implementation()})",
            f"- Packages: {', '.join(versions)}",
            f"- Load average at the start (1, 5, 15 min): {load()}",
        ]
    )


def load() -> str:
    """The machine's load averages over 1, 5 and 15 minutes, as ``uptime`` shows them."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def _pct(value: float) -> str:
    return f"{value:.0%}"


def verdict(value: object) -> str:
    """Return **met**, **missed** or n/a (not measured in this mode)."""
    if value is None:
        return "n/a"
    return "**met**" if value else "**missed**"


def cap_efficiency(result: dict[str, Any]) -> str:
    """Render the cap-efficiency grid, the verdicts, the burst comparison and the check."""
    names: list[str] = result["clients"]
    rows: list[dict[str, Any]] = result["rows"]
    scans = result["scans"]
    out = [
        (
            f"Scans: burst = {scans['burst']['pages']} pages under {scans['burst']['rate']}; "
            f"long = {scans['long']['pages']} pages under {scans['long']['rate']}. Concurrency 8. "
            f"Ideal: `benchmarks/ideal.py`, with the latency plus the emulator's own round trip "
            f"at zero latency ({result['service_seconds'] * 1000:.2f} ms). "
            "*% of ideal* is ideal wall time / measured wall time. "
            "*max/W* is the most requests that arrived in any window of the period, every attempt "
            "counted, from the emulator's log (must be <= the limit). "
            f"Sequential runs past {result['sequential_budget']:g} s are extrapolated from the "
            "pages fetched (marked ~)."
        ),
        "",
    ]
    header = "| scan | policy | Retry-After | latency | ideal s |"
    rule = "|---|---|---|---:|---:|"
    for name in names:
        label = LABELS.get(name, name)
        header += f" {label} s | % of ideal | 429s | max/W |"
        rule += "---:|---:|---:|---:|"
    header += " ours vs target |"
    rule += "---|"
    out += [header, rule]
    grouped: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    for row in rows:
        key = (row["scan"], row["policy"], row["retry_after"], row["latency"])
        grouped.setdefault(key, {})[row["client"]] = row
    for (scan, policy, retry_after, latency), by in grouped.items():
        first = next(iter(by.values()))
        line = (
            f"| {scan} | {policy} | {'yes' if retry_after else 'no'} | {latency:g} "
            f"| {first['ideal']:.2f} |"
        )
        for name in names:
            r = by.get(name)
            if r is None:
                line += " - | - | - | - |"
                continue
            mark = "" if r["complete"] else "~"
            line += (
                f" {mark}{r['wall']:.2f} | {_pct(r['of_ideal'])} | {r['rejected']} "
                f"| {r['max_sent']}/{r['rate_limit']} |"
            )
        ours = by.get("ours")
        line += f" {verdict(ours.get('met')) if ours else '-'} |"
        out.append(line)
    out += ["", "Our client against the targets of issue 3 (d), worst row per policy:", ""]
    out += ["| policy | target | worst % of ideal | most 429s | most in any window | verdict |"]
    out += ["|---|---|---:|---:|---:|---|"]
    for policy in ("sliding", "token-bucket", "fixed", "no-burst"):
        mine = [r for r in rows if r["client"] == "ours" and r["policy"] == policy]
        if not mine:
            continue
        fullest = max(mine, key=lambda r: r["max_sent"] / r["rate_limit"])
        out.append(
            f"| {policy} | {mine[0]['target']}, never over | "
            f"{_pct(min(r['of_ideal'] for r in mine))} "
            f"| {max(r['rejected'] for r in mine)} "
            f"| {fullest['max_sent']}/{fullest['rate_limit']} "
            f"| {verdict(all(r['met'] for r in mine))} "
            f"({sum(r['met'] for r in mine)}/{len(mine)} rows) |"
        )
    issue3 = result["issue3"]
    by3 = {r["client"]: r for r in issue3["rows"]}
    out += [
        "",
        (
            "Issue 3's burst-sized scan: 40 pages, 0.3 s latency, sliding 40 per 1 s (the budget "
            "holds them all), default concurrency 8:"
        ),
        "",
        "| client | wall s | 429s | first customer ms | sequential / client |",
        "|---|---:|---:|---:|---:|",
    ]
    seq = by3["sequential"]["wall"]
    for name in names:
        r = by3[name]
        out.append(
            f"| {LABELS.get(name, name)} | {r['wall']:.2f} | {r['rejected']} "
            f"| {r['first'] * 1000:.0f} | {seq / r['wall']:.2f}x |"
        )
    out += [
        "",
        (
            f"Ours vs the sequential loop: **{issue3['speedup']:.2f}x** (target "
            f">= {issue3['target']:g}x, ideal {issue3['ideal_speedup']:.2f}x): "
            f"{verdict(issue3['met'])}."
        ),
        "",
        (
            f"Isolation check (long scan, sliding, Retry-After, 0.05 s): our client took "
            f"{result['isolation']['alongside']:.2f} s side by side with the baselines and "
            f"{result['isolation']['alone']:.2f} s alone."
        ),
        f"The grid took {result['seconds']:.0f} s.",
    ]
    return "\n".join(out)


def client_cost(result: dict[str, Any]) -> str:
    """Render CPU per customer and time to the first customer."""
    out = [
        (
            f"{result['customers']:,} customers, no cap, no latency; best of {result['rounds']} "
            "run(s), each in a fresh process; CPU is `time.process_time()` of the client process "
            "(the emulator runs in another)."
        ),
        "",
        "| client | CPU µs / customer | customers/s (wall) | first customer ms |",
        "|---|---:|---:|---:|",
    ]
    for name, row in result["clients"].items():
        out.append(
            f"| {LABELS.get(name, name)} | {row['us_per_customer']:.2f} "
            f"| {row['customers_per_second']:,.0f} | {row['first_ms']:.1f} |"
        )
    ours = result["clients"]["ours"]["us_per_customer"]
    out += [
        "",
        (
            f"Ours: {ours:.2f} µs per customer (target <= {result['target_us']:g}): "
            f"{verdict(result['met'])}."
        ),
    ]
    return "\n".join(out)


def memory(result: dict[str, Any]) -> str:
    """Render peak RSS per size."""
    out = [
        (
            "Peak RSS (`VmHWM`, the process's own) of a fresh client process streaming every "
            "customer "
            "(counting, keeping none), emulator in another process, `--policy none`. "
            "*RSS after imports* is the current RSS once the client is imported."
        ),
        "",
        "| customers | RSS after imports MB | peak RSS MB | growth over 30,000 MB | wall s |",
        "|---:|---:|---:|---:|---:|",
    ]
    out.extend(
        f"| {row['customers']:,} | {row['imports_mb']:.1f} | {row['peak_mb']:.1f} "
        f"| {row['growth_mb']:+.1f} | {row['wall']:.1f} |"
        for row in result["rows"]
    )
    if result["million_run"]:
        summary = (
            f"Targets: peak < {result['target_peak_mb']:g} MB at 1,000,000 and growth <= "
            f"{result['target_growth_mb']:g} MB: {verdict(result['met'])}."
        )
    else:
        summary = "The 1,000,000 run is skipped in quick mode; run `--full` for the verdict."
    out += ["", summary]
    return "\n".join(out)


def plot(result: dict[str, Any]) -> str:
    """Render the picture's link and its numbers."""
    out = [
        "![requests over time](requests_over_time.png)",
        "",
        (
            f"{result['pages']} pages, {result['policy']} {result['rate_limit']} per "
            f"{result['rate_period']:g} s, {result['latency']:g} s latency; ideal "
            f"{result['ideal_wall']:.2f} s."
        ),
        "",
        "| client | wall s | 429s |",
        "|---|---:|---:|",
    ]
    for name, run in result["runs"].items():
        rejected = sum(1 for s in run["statuses"] if s == 429)
        out.append(f"| {LABELS.get(name, name)} | {run['wall']:.2f} | {rejected} |")
    return "\n".join(out)


def generic(result: Any) -> str:
    """Render any JSON-like result: scalars as a list, dicts of scalars and rows as tables."""
    if not isinstance(result, dict):
        return f"```\n{result!r}\n```"
    out: list[str] = []
    scalars = {k: v for k, v in result.items() if not isinstance(v, dict | list)}
    for key, value in scalars.items():
        out.append(f"- {key}: {_fmt(value)}")
    for key, value in result.items():
        if isinstance(value, dict) and value:
            if all(not isinstance(v, dict | list) for v in value.values()):
                out += ["", f"{key}:", "", "| name | value |", "|---|---:|"]
                out.extend(f"| {k} | {_fmt(v)} |" for k, v in value.items())
            elif all(isinstance(v, dict) for v in value.values()):
                out += ["", f"{key}:", "", *_rows([{"name": k, **v} for k, v in value.items()])]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out += ["", f"{key}:", "", *_rows(value)]
    return "\n".join(out)


def _rows(rows: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns and not isinstance(row[k], dict | list)]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |" for row in rows]
    return lines


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "cap_efficiency": cap_efficiency,
    "client_cost": client_cost,
    "memory": memory,
    "plot": plot,
}
