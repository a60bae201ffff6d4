"""The picture: requests over time for our client and each baseline, against the cap.

One policy (``sliding``, 20 requests per 1 s, ``Retry-After`` sent, 0.05 s latency),
150 pages. Each client runs in its own process against its own emulator process, all
at once; the figure is drawn from the emulators' own logs (arrival times and status):

- top: requests accepted so far, per client, with the ideal schedule and the most
  the cap allows by each moment (a whole window's budget at each window start);
- one panel per client: requests that arrived in the trailing 1 s window, every
  attempt counted, against the cap's line at 20; each 429 is a red mark.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from typing import TYPE_CHECKING, Any

from benchmarks._procs import EmulatorProcess, WorkerProcess
from benchmarks.cap_efficiency import CONCURRENCY, PAGE, clients
from benchmarks.ideal import ideal_schedule

if TYPE_CHECKING:
    from pathlib import Path

POLICY = "sliding"
RATE_LIMIT = 20
RATE_PERIOD = 1.0
LATENCY = 0.05
PAGES = 150
COLOURS = {"ours": "#1f77b4", "literal": "#ff7f0e", "sequential": "#2ca02c", "dlt": "#9467bd"}
LABELS = {
    "ours": "helpcrunch-async",
    "literal": "AsyncLimiter(R, W) + gather",
    "sequential": "sequential loop",
    "dlt": "dlt REST API source",
}


async def measure(quick: bool) -> dict[str, Any]:  # noqa: ARG001 -- same picture in both modes
    """Run every client side by side under one policy; return each one's arrivals."""
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
                )
            )
            for name in names
        }
        workers = {name: await stack.enter_async_context(WorkerProcess()) for name in names}

        async def one(name: str) -> dict[str, Any]:
            emu = emus[name]
            await emu.reset_log()
            result = await workers[name].run(
                {
                    "op": "scan",
                    "client": name,
                    "base_url": emu.base_url,
                    "rate_limit": RATE_LIMIT,
                    "rate_period": RATE_PERIOD,
                    "concurrency": CONCURRENCY,
                    "time_budget": None,
                }
            )
            log = await emu.log()
            start = float(result["started"])
            return {
                "wall": result["wall"],
                "times": [float(e["time"]) - start for e in log],
                "statuses": [int(e["status"]) for e in log],
            }

        runs = await asyncio.gather(*(one(name) for name in names))
    ideal = ideal_schedule(
        POLICY,
        limit=RATE_LIMIT,
        period=RATE_PERIOD,
        pages=PAGES,
        concurrency=CONCURRENCY,
        latency=LATENCY,
    )
    return {
        "policy": POLICY,
        "rate_limit": RATE_LIMIT,
        "rate_period": RATE_PERIOD,
        "latency": LATENCY,
        "pages": PAGES,
        "runs": dict(zip(names, runs, strict=True)),
        "ideal": list(ideal.sends),
        "ideal_wall": ideal.wall,
    }


def _trailing_counts(times: list[float], period: float) -> tuple[list[float], list[int]]:
    """Return the step curve of arrivals in the trailing window ``(t - period, t]``."""
    ordered = sorted(times)
    events = sorted([(t, 1) for t in ordered] + [(t + period, -1) for t in ordered])
    xs, ys, count = [0.0], [0], 0
    for t, step in events:
        count += step
        xs.append(t)
        ys.append(count)
    return xs, ys


def draw(data: dict[str, Any], path: Path) -> Path:
    """Draw the figure described in the module docstring into ``path`` (PNG)."""
    import matplotlib as mpl  # noqa: PLC0415 -- a heavy import, only when drawing

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- after choosing the backend

    runs: dict[str, dict[str, Any]] = data["runs"]
    limit, period = data["rate_limit"], data["rate_period"]
    end = max(max(r["times"], default=0.0) for r in runs.values()) + period
    fig, axes = plt.subplots(
        len(runs) + 1,
        1,
        figsize=(11, 3.2 + 1.9 * len(runs)),
        sharex=True,
        gridspec_kw={"height_ratios": [2.2] + [1] * len(runs)},
    )
    top = axes[0]
    cap_x, cap_y = [], []
    for k in range(int(end / period) + 1):
        cap_x += [k * period, (k + 1) * period]
        cap_y += [(k + 1) * limit, (k + 1) * limit]
    top.plot(cap_x, cap_y, color="#d62728", lw=1, ls=":", label=f"cap: {limit} per {period:g} s")
    ideal = data["ideal"]
    top.step(
        ideal,
        range(1, len(ideal) + 1),
        where="post",
        color="black",
        ls="--",
        lw=1.2,
        label=f"ideal ({data['ideal_wall']:.1f} s)",
    )
    for name, run in runs.items():
        accepted = sorted(t for t, s in zip(run["times"], run["statuses"], strict=True) if s == 200)
        rejected = sum(1 for s in run["statuses"] if s == 429)
        top.step(
            accepted,
            range(1, len(accepted) + 1),
            where="post",
            color=COLOURS.get(name),
            lw=2 if name == "ours" else 1.4,
            label=f"{LABELS.get(name, name)}: {run['wall']:.1f} s, {rejected} x 429",
        )
    top.set_ylabel("requests accepted")
    top.set_title(
        f"{data['pages']} pages under a {data['policy']} cap of {limit} per {period:g} s, "
        f"{data['latency'] * 1000:.0f} ms latency, Retry-After sent"
    )
    top.legend(loc="upper left", fontsize=8.5)
    top.grid(alpha=0.3)
    top.set_ylim(0, data["pages"] * 1.12)
    for ax, (name, run) in zip(axes[1:], runs.items(), strict=True):
        xs, ys = _trailing_counts(run["times"], period)
        ax.step(xs, ys, where="post", color=COLOURS.get(name), lw=1.4)
        ax.axhline(limit, color="#d62728", ls=":", lw=1)
        bad = [t for t, s in zip(run["times"], run["statuses"], strict=True) if s == 429]
        if bad:
            heights = [ys[max(0, bisect.bisect_right(xs, t) - 1)] for t in bad]
            ax.scatter(bad, heights, marker="x", color="#d62728", s=22, zorder=3, label="429")
            ax.legend(loc="upper right", fontsize=8)
        peak = max(ys)
        ax.set_ylim(0, max(peak, limit) * 1.25 + 1)
        ax.set_ylabel(f"in last {period:g} s", fontsize=8)
        ax.set_title(
            f"{LABELS.get(name, name)}: at most {peak} requests in any {period:g} s",
            fontsize=9,
            loc="left",
        )
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("seconds since the client started")
    axes[-1].set_xlim(0, end)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(quick: bool) -> dict[str, Any]:
    """Run the clients under one policy; the harness draws the figure with `draw`."""
    return asyncio.run(measure(quick))
