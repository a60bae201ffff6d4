"""The progress line and the summary: pure text from a snapshot of the run."""

from __future__ import annotations

from helpcrunch_async._export.progress import Snapshot, progress_text, summary_text
from helpcrunch_async._shell.stats import ScanStats


def test_the_line_shows_done_of_total_with_an_eta() -> None:
    stats = ScanStats(pages=3, retries=1, rate_limited=2)
    text = progress_text(Snapshot(50, stats, 200, "chats", "1,234 messages"), rate=10.0)
    assert text.startswith("50 / 200 chats (25.0%) | 1,234 messages | 3 pages | 10/s | ETA 15s")
    assert "1 retries" in text
    assert "2 429s" in text


def test_without_a_total_the_line_counts_and_has_no_eta() -> None:
    text = progress_text(Snapshot(7, ScanStats(), None, "agents"), rate=2.0)
    assert text.startswith("7 agents | 0 pages | 2/s |")
    assert "ETA" not in text


def test_the_summary_names_the_kind() -> None:
    text = summary_text(
        state="complete", records=12, written=5, stats=None, out="d.csv", noun="departments"
    )
    assert text == "complete: 12 departments in d.csv (5 written by this run)"
