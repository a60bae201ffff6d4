"""The bytes of one record: a JSONL line or a CSV row, and the header that opens a file.

This module is pure: it turns records into bytes and does no I/O.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any, Final, Protocol

import msgspec

from helpcrunch_async._export.forms import CSV_FORMS, CsvForm

if TYPE_CHECKING:
    from helpcrunch_async._export.checkpoint import ExportSettings

__all__ = ["BOM", "CsvEncoder", "JsonlEncoder", "RecordEncoder", "encoder_for"]

# The UTF-8 byte-order mark: only with --excel, which needs it to read non-ASCII text.
BOM: Final = "\ufeff".encode()


class RecordEncoder(Protocol):
    """Turns one record into the bytes of one whole record."""

    def header(self) -> bytes:
        """Return the bytes that open a new file (empty for JSONL)."""
        ...

    def encode(self, record: Any) -> bytes:
        """Return one record, its terminator included."""
        ...


class JsonlEncoder:
    """One record per line, as the API's JSON (msgspec never emits a raw newline)."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()

    def header(self) -> bytes:
        """JSONL has no header."""
        return b""

    def encode(self, record: Any) -> bytes:
        """Return the record's camelCase JSON and a newline."""
        return self._encoder.encode(record) + b"\n"


class CsvEncoder:
    r"""RFC 4180 CSV in UTF-8, ``\r\n`` line ends, in the columns of ``form`` (customers').

    With ``bom`` the file opens with a byte-order mark (what Excel needs to read
    non-ASCII text); without it, what ``csv``, pandas, DuckDB and PostgreSQL
    ``COPY`` expect.
    """

    def __init__(
        self, form: CsvForm | None = None, *, formula_guard: bool = True, bom: bool = False
    ) -> None:
        self._form = CSV_FORMS["customers"] if form is None else form
        self._formula_guard = formula_guard
        self._bom = bom
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def header(self) -> bytes:
        """Return the byte-order mark if asked for, and the header row."""
        return (BOM if self._bom else b"") + self._row(self._form.columns).encode()

    def encode(self, record: Any) -> bytes:
        """Return the record as one CSV row (quoted fields may span lines)."""
        return self._row(self._form.cells(record, formula_guard=self._formula_guard)).encode()

    def _row(self, cells: tuple[str, ...]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(cells)
        return self._buffer.getvalue()


def encoder_for(settings: ExportSettings) -> RecordEncoder:
    """Return the encoder that writes records as ``settings`` say."""
    if settings.format == "csv":
        return CsvEncoder(
            CSV_FORMS[settings.kind], formula_guard=settings.formula_guard, bom=settings.excel
        )
    return JsonlEncoder()
