"""The import's checkpoint as a state machine: which rows are settled, which writes were planned.

This module is pure (no I/O, no clock): each transition returns the next
`Journal`, which the shell writes atomically (`_import.files`) before it acts
on it. The input is applied in windows of consecutive lines. The rules:

1. A new import starts with no line settled (`start`). A resume must be made
   with the same settings and the same input bytes (its SHA-256); anything else
   is refused, naming what differs (`check_resume`).
2. Before the first write of a window, the rows it may write (those decided
   ``create`` or ``update``) are recorded as planned (`plan`), and only then is
   any write sent.
3. When every write of a window has answered and its rejects are on disk, the
   window is settled (`settle`): every line up to its end is done, its counts
   are added, the rejects file's length is recorded, the plan is dropped.
4. A resume starts after the last settled line. The window that was planned is
   looked up and decided again, so a write that landed before the crash is
   found, never sent twice, and one that did not is sent now; a planned row
   counts as planned (`planned_for`; `_core.import_plan` rule 5). A create whose
   answer was lost was resolved by reading (`_core.writes`); a kill between the
   create and the checkpoint is resolved the same way, by the next lookup.
5. The rejects file never holds more than the checkpoint vouches for: a resume
   cuts it back to ``rejects_bytes``.
6. Once every line is settled, the import is complete (`finish`); a resume of a
   complete import sends nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import msgspec

from helpcrunch_async._core.refusals import ExportRefusedError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from helpcrunch_async._core.import_plan import Action

__all__ = [
    "JOURNAL_VERSION",
    "Counts",
    "ImportSettings",
    "Journal",
    "Pending",
    "check_resume",
    "finish",
    "plan",
    "planned_for",
    "settle",
    "start",
]

JOURNAL_VERSION: Final = 1
_START_OVER: Final = "start over with --overwrite"
# The settings a resume must share, and the option that names each in a refusal.
_OPTIONS: Final = {
    "format": "--format",
    "match": "--match",
    "mode": "--mode",
    "base_url": "--base-url",
    "guarded": "--csv-raw",
}


class ImportSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What an import is made with; a resume must match it (rule 1). Never the key."""

    input_sha256: str
    input_bytes: int
    format: str
    match: str
    mode: str
    base_url: str
    guarded: bool = True


class Counts(msgspec.Struct, kw_only=True):
    """How many settled rows were created, updated, unchanged and rejected."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def add(self, action: Action) -> None:
        """Count one row's outcome."""
        name = {"create": "created", "update": "updated", "reject": "rejected"}.get(
            action, "unchanged"
        )
        setattr(self, name, getattr(self, name) + 1)

    def plus(self, other: Counts) -> Counts:
        """Return the sum of two counts."""
        return Counts(
            created=self.created + other.created,
            updated=self.updated + other.updated,
            unchanged=self.unchanged + other.unchanged,
            rejected=self.rejected + other.rejected,
        )


class Pending(msgspec.Struct, frozen=True, kw_only=True):
    """A window whose writes may have begun: its last line, and each written row's plan."""

    end_line: int
    plan: dict[int, str]


class Journal(msgspec.Struct, frozen=True, kw_only=True):
    """The import's checkpoint (``FILE.import.checkpoint.json``)."""

    version: int = JOURNAL_VERSION
    settings: ImportSettings
    lines_done: int = 0
    counts: Counts = msgspec.field(default_factory=Counts)
    rejects_bytes: int = 0
    pending: Pending | None = None
    complete: bool = False


def start(settings: ImportSettings) -> Journal:
    """Rule 1: a new import, nothing settled."""
    return Journal(settings=settings)


def check_resume(saved: Journal, wanted: ImportSettings, path: Path) -> None:
    """Rule 1: refuse to resume the import ``path`` records with other settings or input."""
    if saved.version != JOURNAL_VERSION:
        raise ExportRefusedError(
            f"the checkpoint {path} has version {saved.version}, this tool writes "
            f"{JOURNAL_VERSION}; {_START_OVER}"
        )
    had, now = saved.settings, wanted
    if (had.input_sha256, had.input_bytes) != (now.input_sha256, now.input_bytes):
        raise ExportRefusedError(
            f"cannot resume: the input changed since the import began ({had.input_bytes} "
            f"bytes then, {now.input_bytes} now, or other bytes); {_START_OVER}"
        )
    for name, option in _OPTIONS.items():
        before, after = getattr(had, name), getattr(now, name)
        if before != after:
            raise ExportRefusedError(
                f"cannot resume: the import was made with {option} {before}, not {after}; "
                f"resume with {option} {before}, or {_START_OVER}"
            )
    numbers = (saved.lines_done, saved.rejects_bytes, *msgspec.structs.astuple(saved.counts))
    if min(numbers) < 0:
        raise ExportRefusedError(f"the checkpoint {path} is damaged (a negative count)")


def plan(journal: Journal, end_line: int, actions: Mapping[int, Action]) -> Journal:
    """Rule 2: record the rows of the window up to ``end_line`` that may be written."""
    written: dict[int, str] = {
        line: action for line, action in actions.items() if action in ("create", "update")
    }
    # A resumed window keeps what the crashed run planned: that plan is what
    # tells a create that landed from a row that was there before.
    if journal.pending is not None:
        written = {**written, **journal.pending.plan}
        end_line = max(end_line, journal.pending.end_line)
    return msgspec.structs.replace(journal, pending=Pending(end_line=end_line, plan=written))


def planned_for(journal: Journal, line: int) -> Action | None:
    """Rule 4: what a crashed run planned for the row on ``line`` (None: nothing)."""
    pending = journal.pending
    if pending is None:
        return None
    action = pending.plan.get(line)
    return "create" if action == "create" else "update" if action == "update" else None


def settle(journal: Journal, end_line: int, counts: Counts, rejects_bytes: int) -> Journal:
    """Rule 3: every line up to ``end_line`` is done; ``rejects_bytes`` of rejects are on disk."""
    pending = journal.pending
    left = {} if pending is None else {k: a for k, a in pending.plan.items() if k > end_line}
    # Part of a crashed run's plan may lie past this window: keep that part.
    kept = None if pending is None or not left else Pending(end_line=pending.end_line, plan=left)
    return msgspec.structs.replace(
        journal,
        lines_done=end_line,
        counts=journal.counts.plus(counts),
        rejects_bytes=rejects_bytes,
        pending=kept,
    )


def finish(journal: Journal) -> Journal:
    """Rule 6: every line is settled."""
    return msgspec.structs.replace(journal, complete=True, pending=None)
