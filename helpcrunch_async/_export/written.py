"""The ids of the records an export has written, so that its resumed scan knows them.

A resumed customers export hands them to its scan (``seen``): a record the
server serves again is dropped instead of written twice, and a scan that knows
it missed customers can count id ranges against every id in the file (see
`_core.recount`). The file is streamed (never whole in memory) and opened
without following a link. This module does no network I/O.
"""

from __future__ import annotations

import csv
import io
import os
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from helpcrunch_async._export.checkpoint import Format

__all__ = ["written_ids"]


class _Record(msgspec.Struct):
    id: int


_DECODER = msgspec.json.Decoder(_Record)


def written_ids(out: Path, fmt: Format) -> Iterator[int]:
    """Yield the ``id`` of every record in the export file ``out`` (CSV: its first column)."""
    fd = os.open(out, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as raw:
        if fmt == "jsonl":
            for line in raw:
                if line.strip():
                    yield _DECODER.decode(line).id
            return
        # utf-8-sig: a file made with --excel opens with a byte-order mark.
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        rows = csv.reader(text)
        next(rows, None)  # the header
        for row in rows:
            if row:
                yield int(row[0])
