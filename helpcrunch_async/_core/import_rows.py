"""The import's row checks: one line of the input file becomes a `Row` or a `Rejected`.

This module is pure (no I/O, no clock). The input is the export's own format
(`helpcrunch_async._core.cells` defines the CSV columns; JSONL lines are the
API's customer JSON). Every row is checked before the first request; the rules:

1. A JSONL line must be one JSON object; a CSV row must have as many cells as
   the header. A blank JSONL line is skipped, not rejected.
2. Only the fields a write can set are read: ``name``, ``email``, ``userId``,
   ``company``, ``phone``, ``notes``, ``customData`` and ``tags``. The export's
   other columns (``id``, ``firstSeen``, ``location.*``, ``device.*``, ...) are
   what the server keeps for itself, and are ignored. A CSV header naming a
   column the export does not write refuses the whole file (`header_columns`).
3. A field absent from a JSONL object, or an empty CSV cell, is not given: the
   customer's value stays. A JSONL ``null`` clears the field (as ``update`` does).
4. Each value is checked as the write methods check it (`customer_body`): text
   fields are strings, ``customData`` maps non-empty names to values the API can
   store (the export's ``[{property, value}]`` list, or an object; a property
   repeated keeps its last value), ``tags`` are non-empty names (the export's
   ``[{"name": ...}]`` objects, names, or in CSV the ``|``-joined cell). A value
   that fails is a malformed row, with the reason.
5. CSV text cells lose the one leading apostrophe the export's formula guard put
   in front (`unguard_cell`), unless the file was written with ``--csv-raw``.
6. Every row must carry the ``--match`` key (``user_id`` or ``email``) as a
   non-empty string, in every mode: the key is how a row is found, and how a row
   whose fate a crash hid is resolved by reading.
7. A key repeated in the file: its first row is imported, each later one is
   rejected naming the line of the first (`KeyTracker`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import msgspec

from helpcrunch_async._core.cells import CSV_COLUMNS, split_tags, unguard_cell
from helpcrunch_async._core.write_params import customer_body
from helpcrunch_async._errors import InvalidParameterError

__all__ = [
    "MATCHES",
    "MODES",
    "KeyTracker",
    "Match",
    "Mode",
    "Rejected",
    "Row",
    "header_columns",
    "row_from_cells",
    "row_from_json",
]

Match = Literal["user_id", "email"]
MATCHES: Final = ("user_id", "email")
Mode = Literal["upsert", "create", "update"]
MODES: Final = ("upsert", "create", "update")

# The JSON keys a write sets (rule 2), to the write methods' argument names.
_WRITABLE: Final = {
    "name": "name",
    "email": "email",
    "userId": "user_id",
    "company": "company",
    "phone": "phone",
    "notes": "notes",
    "customData": "custom_data",
    "tags": "tags",
}
_TEXT_COLUMNS: Final = ("name", "email", "userId", "company", "phone", "notes")
_KEY_NAMES: Final = {"user_id": "userId", "email": "email"}
_JSON = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class Row:
    """One row to import: its 1-based ``line``, its ``key`` and the write's ``fields``.

    ``fields`` holds the arguments of ``customers.create`` (snake_case; ``tags`` a
    list of names, ``custom_data`` a dict), only those the row gives.
    """

    line: int
    key: str
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row that is not imported: its 1-based ``line`` and the ``reason``."""

    line: int
    reason: str


def header_columns(header: list[str]) -> tuple[str, ...]:
    """Return a CSV header's columns; refuse one the export does not write, or a repeat (rule 2)."""
    columns = list(header)
    if columns:
        # An Excel export opens with a byte-order mark.
        columns[0] = columns[0].removeprefix("\ufeff")
    unknown = [name for name in columns if name not in CSV_COLUMNS]
    if unknown:
        raise InvalidParameterError(
            f"the CSV header names {unknown[:3]}, which are not columns of the export; "
            f"the columns are {', '.join(CSV_COLUMNS)}"
        )
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise InvalidParameterError(f"the CSV header names {repeated} more than once")
    return tuple(columns)


def row_from_json(line: int, raw: bytes, match: Match) -> Row | Rejected | None:
    """Check one JSONL line (rules 1-4, 6); None for a blank line."""
    if not raw.strip():
        return None
    try:
        record = _JSON.decode(raw)
    except msgspec.DecodeError as exc:
        return Rejected(line, f"not valid JSON: {exc}")
    if not isinstance(record, dict):
        return Rejected(line, f"not a JSON object but {type(record).__name__}")
    fields: dict[str, Any] = {}
    try:
        for key, argument in _WRITABLE.items():
            if key in record:
                fields[argument] = _json_value(key, record[key])
    except InvalidParameterError as exc:
        return Rejected(line, str(exc))
    return _checked(line, fields, match)


def row_from_cells(
    line: int, columns: tuple[str, ...], cells: list[str], match: Match, *, guarded: bool
) -> Row | Rejected:
    """Check one CSV row under ``columns`` (rules 1-6); ``guarded``: undo the formula guard."""
    if len(cells) != len(columns):
        return Rejected(line, f"has {len(cells)} cells, the header has {len(columns)}")
    fields: dict[str, Any] = {}
    try:
        for column, text in zip(columns, cells, strict=True):
            if not text or column not in _WRITABLE:
                continue
            value = unguard_cell(text) if guarded else text
            if column in _TEXT_COLUMNS:
                fields[_WRITABLE[column]] = value
            elif column == "tags":
                fields["tags"] = split_tags(value)
            else:
                fields["custom_data"] = _custom_data(_cell_json(text))
    except InvalidParameterError as exc:
        return Rejected(line, str(exc))
    return _checked(line, fields, match)


def _cell_json(text: str) -> object:
    try:
        return _JSON.decode(text)
    except msgspec.DecodeError as exc:
        raise InvalidParameterError(f"customData is not a JSON object: {exc}") from None


def _json_value(key: str, value: object) -> object:
    if key == "customData":
        return {} if value is None else _custom_data(value)
    if key == "tags":
        return [] if value is None else _tag_names(value)
    return value


def _custom_data(value: object) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):
        pairs: dict[str, Any] = {}
        for item in value:
            if not (isinstance(item, Mapping) and "property" in item):
                raise InvalidParameterError(
                    f"customData items must be {{property, value}} objects, got {item!r:.40}"
                )
            pairs[item["property"]] = item.get("value")
        return pairs
    raise InvalidParameterError(f"customData must be an object or a list, got {value!r:.40}")


def _tag_names(value: object) -> list[object]:
    if not isinstance(value, list):
        raise InvalidParameterError(f"tags must be a list, got {value!r:.40}")
    return [tag.get("name") if isinstance(tag, Mapping) else tag for tag in value]


def _checked(line: int, fields: dict[str, Any], match: Match) -> Row | Rejected:
    try:
        customer_body(fields)
    except InvalidParameterError as exc:
        return Rejected(line, str(exc))
    key = fields.get(match)
    if not isinstance(key, str) or not key:
        return Rejected(line, f"no {_KEY_NAMES[match]} (the --match key): a row is found by it")
    return Row(line, key, fields)


class KeyTracker:
    """Rule 7: remembers the line of each key's first row."""

    def __init__(self) -> None:
        """Start with no key seen."""
        self._first: dict[str, int] = {}

    def check(self, row: Row) -> Row | Rejected:
        """Return ``row`` if its key is new, else a rejection naming the first row's line."""
        first = self._first.setdefault(row.key, row.line)
        if first == row.line:
            return row
        return Rejected(row.line, f"repeats the key {row.key!r:.60} of line {first}")
