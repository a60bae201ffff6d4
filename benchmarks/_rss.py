"""A process's peak resident memory, as the kernel keeps it for that process alone.

``ru_maxrss`` is not it for a child: Linux folds the parent's peak into the
child's at ``exec`` when the child was started by ``vfork`` (as ``subprocess``
does), so a small worker started by a large harness reports the harness's peak.
``VmHWM`` in ``/proc/PID/status`` belongs to the process's own memory map, which
``exec`` replaces. Off Linux, ``ru_maxrss`` is the fallback.
"""

from __future__ import annotations

import contextlib
import resource
import sys
from pathlib import Path

__all__ = ["peak_kb", "peak_mb", "reset_peak"]


def peak_kb(pid: int | str = "self") -> int:
    """Return the peak RSS of process ``pid`` in KiB (0 if it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        if pid != "self":
            return 0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # macOS counts bytes, Linux KiB.
        return peak // 1024 if sys.platform == "darwin" else peak
    found = (line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(next(found, 0))


def peak_mb(pid: int | str = "self") -> float:
    """Return the peak RSS of process ``pid`` in MB, to a tenth (0.0 if it is gone)."""
    return round(peak_kb(pid) / 1024, 1)


def reset_peak() -> None:
    """Start this process's peak afresh (Linux: write 5 to ``clear_refs``), for a peak per phase."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
