"""The benchmarks' peak RSS is the measured process's own, not its parent's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks._rss import peak_kb, peak_mb

ROOT = Path(__file__).resolve().parent.parent
CHILD = (
    "import resource; from benchmarks._rss import peak_kb; "
    "print(peak_kb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)


def test_a_small_child_of_a_large_parent_reports_its_own_peak() -> None:
    held = bytearray(256 * 1024 * 1024)
    held[::4096] = b"\1" * len(held[::4096])  # touch every page, so it is resident
    parent_kb = peak_kb()
    assert parent_kb >= 256 * 1024
    done = subprocess.run(  # noqa: S603 -- our own interpreter
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, cwd=ROOT
    )
    own, ru_maxrss = (int(word) for word in done.stdout.split())
    del held
    # The child's own map is a bare interpreter; ru_maxrss may carry the parent's peak
    # (vfork, then exec), which is what the benchmarks must not report.
    assert own < 128 * 1024
    assert own <= ru_maxrss


def test_a_process_that_is_gone_has_no_peak_and_this_one_has() -> None:
    assert peak_kb(2**22 + 12345) == 0
    assert peak_mb(2**22 + 12345) == 0.0
    assert peak_mb() > 0
