r"""Count the whole records in the bytes of an export, to check a checkpoint against its file.

A JSONL record ends with ``\n`` (msgspec never writes a raw newline inside
one). A CSV record ends with ``\r\n`` outside quotes: our writer quotes every
cell that holds a quote or a line break, and doubles the quotes inside, so the
count of ``"`` seen so far tells whether a ``\r\n`` ends a record or sits in
a cell. The first CSV record is the header.

This module is pure: it reads the chunks it is given and does no I/O itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

    from helpcrunch_async._export.checkpoint import Format

__all__ = ["Framing", "count_records"]


@dataclass(frozen=True, slots=True)
class Framing:
    """What the bytes hold: whole records, and whether they end right after one."""

    records: int
    on_boundary: bool


def count_records(chunks: Iterable[bytes], fmt: Format) -> Framing:
    """Count the records in the concatenation of ``chunks`` (CSV: the header included)."""
    if fmt == "jsonl":
        return _count_lines(chunks)
    return _count_csv_rows(chunks)


def _count_lines(chunks: Iterable[bytes]) -> Framing:
    records = 0
    last = b"\n"
    for chunk in chunks:
        if chunk:
            records += chunk.count(b"\n")
            last = chunk[-1:]
    return Framing(records, last == b"\n")


def _count_csv_rows(chunks: Iterable[bytes]) -> Framing:
    rows = 0
    inside = False
    tail = b""
    # A chunk may end between the \r and the \n of one line end: carry the \r over.
    carry = b""
    for chunk in chunks:
        if not chunk:
            continue
        tail = (tail + chunk)[-2:]
        data = carry + chunk
        carry = b"\r" if data.endswith(b"\r") else b""
        if carry:
            data = data[:-1]
        for index, part in enumerate(data.split(b'"')):
            if index:
                inside = not inside
            if not inside:
                rows += part.count(b"\r\n")
    return Framing(rows, not inside and tail in (b"", b"\r\n"))
