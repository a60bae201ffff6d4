"""The live-sync benchmark's verdicts, table and headlines, from a result (nothing is run)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from benchmarks import live_sync
from benchmarks.__main__ import write

if TYPE_CHECKING:
    from pathlib import Path


def result(**changes: Any) -> dict[str, Any]:
    """A result shaped as ``live_sync.run`` returns it; ``changes`` replace top-level keys."""
    clean = {"missing": 0, "extra": 0, "stale_edits": 0}
    made: dict[str, Any] = {
        "customers": 20_000,
        "chats": 400,
        "changed_records": 274,
        "changed_customers": 270,
        "day_s": 20.0,
        "live": {"requests": 40, "customer_requests": 30, **clean, "batches": 12},
        "lag_median_s": 2.5,
        "lag_p99_s": 2.7,
        "nightly": {"requests": 180, "customer_requests": 170, **clean, "stale_edits": 200},
        "full": {"requests": 618, "customer_requests": 205, **clean},
        "refresh": {
            "days": 7,
            "idle_run_requests": 15,
            "refresh_run_requests": 44,
            "slice_requests": 29,
            "refreshed_customers": 2_853,
            "full_pass_customer_requests": 200,
        },
        "phases_s": {"first sync and copies": 6.0, "the day": 20.0},
        "peak_rss_mb": {
            "benchmark_and_emulator": 358.0,
            "sync_live": 341.0,
            "by_phase": {"first sync and copies": 358.0, "the day": 120.0},
        },
        "load_average": {"before": 2.1, "after": 2.0},
    }
    made.update(changes)
    made["targets"] = live_sync.targets(made)
    return made


def test_each_target_is_met_or_missed_by_its_own_number() -> None:
    assert live_sync.targets(result()) == {
        "exact": True,
        "lag_median": True,
        "per_changed_customer": True,
    }
    stale = result(live={**result()["live"], "stale_edits": 1})
    assert stale["targets"]["exact"] is False
    assert result(lag_median_s=60.0)["targets"]["lag_median"] is False
    assert result(lag_median_s=None)["targets"]["lag_median"] is None
    costly = result(live={**result()["live"], "customer_requests": 541})
    assert costly["targets"]["per_changed_customer"] is False


def test_the_table_shows_the_runs_the_lag_the_refresh_and_the_verdicts() -> None:
    text = live_sync.table(result(lag_median_s=75.0))
    assert "| `sync --live` (the day as it came) | 40 | 0.15 | 30 | 0.11 | 0 | 0 | 0 |" in text
    assert "| nightly `sync` (no inbox) | 180 | 0.66 | 170 | 0.63 | 0 | 0 | 200 |" in text
    assert "median 75.0 s, p99 2.7 s" in text
    assert "the slice costs **29 requests a run**" in text
    assert "at most 7 days stale" in text
    assert "lag under 60 s at the median: **missed**" in text
    assert "exact for every announced change: **met**" in text
    assert "first sync and copies 6 s / 358 MB, the day 20 s / 120 MB" in text
    assert "Peak RSS of `sync --live`: 341 MB" in text


def test_the_headlines_carry_the_live_sync_targets(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    made = result(lag_median_s=4.300000000000001)
    write(path, "- machine", {"live_sync": made}, {"live_sync": live_sync.table(made)})
    text = path.read_text()
    assert "| median 4.3 s, p99 2.7 s | median < 1 min (issue 19) | **met** |" in text
    assert "| <= 2 (issue 19) | **met** |" in text
    assert "29 requests a run (2,853 customers re-read) for at most 7 days stale" in text
    assert "## Live sync: webhooks into the mirror" in text
