"""The benchmark harness works end to end on a tiny scale (no timing is asserted)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import pytest

from benchmarks import _report, arrival_jitter, cap_efficiency, plot
from benchmarks.__main__ import write
from benchmarks._procs import EmulatorProcess, WorkerProcess

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.slow, pytest.mark.timeout(20)]

TINY = cap_efficiency.Scan("tiny", 3, 20, 1.0)


async def _tiny_rows() -> list[dict[str, Any]]:
    names = ("ours", "sequential")
    scenario = cap_efficiency.Scenario(TINY, "sliding", retry_after=True, latency=0.0)
    async with contextlib.AsyncExitStack() as stack:
        emus = {
            (name, TINY.name): await stack.enter_async_context(
                EmulatorProcess(customers=TINY.pages * cap_efficiency.PAGE)
            )
            for name in names
        }
        workers = {name: await stack.enter_async_context(WorkerProcess()) for name in names}
        return await cap_efficiency.run_scenario(
            scenario, names, emus, workers, service=0.0, time_budget=None, cutoff=10.0
        )


async def test_one_scenario_runs_every_client_in_its_own_process(tmp_path: Path) -> None:
    rows = await _tiny_rows()
    assert [row["client"] for row in rows] == ["ours", "sequential"]
    for row in rows:
        assert row["customers"] == 300
        assert row["complete"]
        assert row["requests"] >= 3
        assert row["max_sent"] >= 1
    assert "met" in rows[0]
    # The report renders these rows, and writes a file.
    result = {
        "clients": ["ours", "sequential"],
        "scans": {"burst": {"pages": 3, "rate": "20/1s"}, "long": {"pages": 3, "rate": "20/1s"}},
        "service_seconds": 0.0,
        "sequential_budget": 1.0,
        "cutoff": 10.0,
        "rows": rows,
        "issue3": {
            "rows": rows,
            "speedup": 1.0,
            "ideal_speedup": 1.0,
            "target": 6.0,
            "met": False,
        },
        "isolation": {"alongside": 1.0, "alone": 1.0},
        "seconds": 1.0,
    }
    text = _report.cap_efficiency(result)
    assert "| tiny | sliding | yes |" in text
    out = tmp_path / "RESULTS.md"
    write(
        out,
        _report.machine("python -m benchmarks --test"),
        {"cap_efficiency": result},
        {"cap_efficiency": text},
    )
    assert "## Cap efficiency" in out.read_text()


def test_plot_draws_a_png(tmp_path: Path) -> None:
    data = {
        "policy": "sliding",
        "rate_limit": 2,
        "rate_period": 1.0,
        "latency": 0.05,
        "pages": 4,
        "runs": {
            "ours": {"wall": 1.2, "times": [0.0, 0.1, 0.1, 1.1], "statuses": [200] * 4},
            "literal": {
                "wall": 1.5,
                "times": [0.0, 0.1, 0.1, 0.2, 1.2],
                "statuses": [200, 200, 429, 200, 200],
            },
        },
        "ideal": [0.0, 0.05, 1.0, 1.05],
        "ideal_wall": 1.1,
    }
    path = plot.draw(data, tmp_path / "picture.png")
    assert path.read_bytes().startswith(b"\x89PNG")


def test_generic_renderer_handles_nested_results() -> None:
    text = _report.generic(
        {"rate": 1234.5, "ok": True, "by": {"a": 1, "b": 2.5}, "rows": [{"x": 1}, {"x": 2}]}
    )
    assert "- rate: 1,234" in text or "- rate: 1,235" in text
    assert "| a | 1 |" in text
    assert "| x |" in text


def test_arrival_jitter_table_flags_a_client_over_the_cap() -> None:
    rows = [
        {"client": "ours", "jitter": 0.05, "wall": 7.5, "rejected": 1, "max_in_window": 21},
        {"client": "literal", "jitter": 0.05, "wall": 8.8, "rejected": 25, "max_in_window": 39},
    ]
    text = arrival_jitter.table({"rows": rows, "ours_never_over": False, "ours_rejected": 1})
    assert "| 0.05 | helpcrunch-async | 7.50 | 1 | 21/20 |" in text
    assert "| 0.05 | AsyncLimiter + gather | 8.80 | 25 | 39/20 |" in text
    assert "never over the cap: **no**; its 429s in all levels: 1." in text
