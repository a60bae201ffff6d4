r"""Crash-safe export files: whole records appended in batches, then a checkpoint.

The rule that makes a crash harmless: a batch of whole records is appended to
the output, flushed and fsynced, and only THEN is the checkpoint beside it
(``FILE.checkpoint.json``) atomically replaced (written to a temporary file,
fsynced, ``os.replace``\\ d, the directory fsynced). So the checkpoint never
claims a byte that is not on disk. Whatever lies past the checkpoint's byte
length (a torn record from a kill -9 or a power cut, or whole records the
checkpoint did not reach) is cut off by a resume, which then fetches those
customers again from offset ``records``.

The checkpoint records what the export was made with (format, sort, order,
page size, base URL, tool version), how many records are complete and how many
bytes hold them, and whether the export finished. It never holds the API key.

This module does no network I/O and imports neither aiohttp nor asyncio.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import fcntl
import io
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Literal, Protocol, Self

import msgspec

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "Checkpoint",
    "ExportRefusedError",
    "ExportSettings",
    "ExportWriter",
    "Format",
    "checkpoint_path",
    "csv_cells",
    "join_tags",
    "read_checkpoint",
    "split_tags",
    "unguard_cell",
    "write_checkpoint",
]

Format = Literal["jsonl", "csv"]
FORMATS: tuple[str, ...] = ("jsonl", "csv")
CHECKPOINT_VERSION: Final = 1
TOOL_VERSION: Final = "0.1.0"

# The CSV columns, in order. Nested objects are flattened with a dot; see csv_cells.
CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "email",
    "userId",
    "company",
    "phone",
    "firstSeen",
    "firstSeenUtc",
    "lastSeen",
    "lastSeenUtc",
    "location.countryCode",
    "location.regionCode",
    "location.city",
    "device.id",
    "device.ip",
    "device.timezone",
    "device.platform",
    "device.userAgent",
    "unsubscribed",
    "blocked",
    "source",
    "referer",
    "locale",
    "notes",
    "lastPage",
    "tags",
    "customData",
)

# A cell starting with one of these is a formula to a spreadsheet: a customer's
# name is typed by a website visitor, so it must not run in the support team's
# Excel (OWASP "CSV injection"). A leading apostrophe makes it text.
_FORMULA_STARTS: Final = frozenset("=+-@\t\r'")
_BOM: Final = "\ufeff"


class ExportRefusedError(Exception):
    """An export that must not start or resume; the message says why and what to do."""


class ExportSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What an export is made with; a resume must match it."""

    format: Format
    sort: str | None
    order: str
    page_size: int
    base_url: str


class Checkpoint(msgspec.Struct, kw_only=True):
    """How far the output is complete, and what it was made with (never the key)."""

    version: int = CHECKPOINT_VERSION
    tool_version: str = TOOL_VERSION
    settings: ExportSettings
    # Whole records in the first `bytes` bytes of the output.
    records: int = 0
    bytes: int = 0
    complete: bool = False


def checkpoint_path(out: Path) -> Path:
    """Return the checkpoint file that sits beside the output ``out``."""
    return out.with_name(out.name + ".checkpoint.json")


def read_checkpoint(path: Path) -> Checkpoint | None:
    """Return the checkpoint at ``path``, None if there is none; refuse a damaged one."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        checkpoint = msgspec.json.decode(data, type=Checkpoint)
    except msgspec.DecodeError as exc:
        raise ExportRefusedError(
            f"the checkpoint {path} is unreadable ({exc}); start over with --overwrite"
        ) from None
    if checkpoint.version != CHECKPOINT_VERSION:
        raise ExportRefusedError(
            f"the checkpoint {path} has version {checkpoint.version}, this tool writes "
            f"{CHECKPOINT_VERSION}; start over with --overwrite"
        )
    return checkpoint


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the checkpoint at ``path`` atomically and durably."""
    tmp = path.with_name(path.name + ".tmp")
    data = msgspec.json.format(msgspec.json.encode(checkpoint)) + b"\n"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
    _fsync_dir(path)


def _fsync_dir(path: Path) -> None:
    # The rename itself is durable only once the directory entry is on disk.
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- record encoders -------------------------------------------------------------


class RecordEncoder(Protocol):
    """Turns one customer into the bytes of one whole record."""

    def header(self) -> bytes:
        """Return the bytes that open a new file (empty for JSONL)."""
        ...

    def encode(self, customer: Any) -> bytes:
        """Return one record, its terminator included."""
        ...


class JsonlEncoder:
    """One customer per line, as the API's JSON (msgspec never emits a raw newline)."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()

    def header(self) -> bytes:
        """JSONL has no header."""
        return b""

    def encode(self, customer: Any) -> bytes:
        """Return the customer's camelCase JSON and a newline."""
        return self._encoder.encode(customer) + b"\n"


class CsvEncoder:
    """RFC 4180 CSV in UTF-8 with a BOM (so Excel reads non-ASCII), columns `CSV_COLUMNS`."""

    def __init__(self, *, formula_guard: bool = True) -> None:
        self._formula_guard = formula_guard
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")

    def header(self) -> bytes:
        """Return the BOM and the header row."""
        return (_BOM + self._row(CSV_COLUMNS)).encode()

    def encode(self, customer: Any) -> bytes:
        """Return the customer as one CSV row (quoted fields may span lines)."""
        return self._row(csv_cells(customer, formula_guard=self._formula_guard)).encode()

    def _row(self, cells: tuple[str, ...]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(cells)
        return self._buffer.getvalue()


def csv_cells(customer: Any, *, formula_guard: bool = True) -> tuple[str, ...]:
    """Return the cells of `CSV_COLUMNS` for one customer (a Struct or the API's dict).

    Nulls are empty cells, booleans ``true``/``false``, timestamps unix seconds
    plus an ISO 8601 UTC copy. ``tags`` holds the tag names joined by ``|``
    (see `join_tags`); ``customData`` a JSON object ``{property: value}``, so a
    spreadsheet's "contains" filter finds ``"Plan":"Premium"``. With
    ``formula_guard`` a text cell starting with ``= + - @``, a tab, a carriage
    return or an apostrophe gets one leading apostrophe (`unguard_cell` undoes it).
    """
    raw = msgspec.to_builtins(customer)
    location = raw.get("location") or {}
    device = raw.get("device") or {}
    first_seen = _timestamp(raw.get("firstSeen"))
    last_seen = _timestamp(raw.get("lastSeen"))
    tags = [tag.get("name") or "" for tag in raw.get("tags") or ()]
    values: tuple[Any, ...] = (
        raw.get("id"),
        raw.get("name"),
        raw.get("email"),
        raw.get("userId"),
        raw.get("company"),
        raw.get("phone"),
        first_seen,
        _iso(first_seen),
        last_seen,
        _iso(last_seen),
        location.get("countryCode"),
        location.get("regionCode"),
        location.get("city"),
        device.get("id"),
        device.get("ip"),
        device.get("timezone"),
        device.get("platform"),
        device.get("userAgent"),
        raw.get("unsubscribed"),
        raw.get("blocked"),
        raw.get("source"),
        raw.get("referer"),
        raw.get("locale"),
        raw.get("notes"),
        raw.get("lastPage"),
        join_tags(tags) if tags else None,
        _custom_data_json(raw.get("customData")),
    )
    return tuple(_cell(value, formula_guard=formula_guard) for value in values)


def join_tags(names: list[str]) -> str:
    r"""Join tag names with ``|``; a ``\`` or ``|`` inside a name is escaped with ``\``."""
    return "|".join(name.replace("\\", "\\\\").replace("|", "\\|") for name in names)


def split_tags(cell: str) -> list[str]:
    """Invert `join_tags` (an empty cell is no tags)."""
    if not cell:
        return []
    names: list[str] = []
    current: list[str] = []
    chars = iter(cell)
    for char in chars:
        if char == "\\":
            current.append(next(chars, "\\"))
        elif char == "|":
            names.append("".join(current))
            current = []
        else:
            current.append(char)
    names.append("".join(current))
    return names


def unguard_cell(cell: str) -> str:
    """Invert the formula guard: drop the one apostrophe it put in front."""
    return cell.removeprefix("'")


def _cell(value: Any, *, formula_guard: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if formula_guard and text and text[0] in _FORMULA_STARTS:
        return "'" + text
    return text


def _timestamp(value: Any) -> int | None:
    # The model normalises timestamps to ints; a numeric string is accepted too.
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _iso(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    try:
        moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _custom_data_json(custom_data: Any) -> str | None:
    if not custom_data:
        return None
    if isinstance(custom_data, dict):
        pairs = custom_data
    else:
        # The list form; a repeated property keeps its last value (JSONL is lossless).
        pairs = {item.get("property"): item.get("value") for item in custom_data}
    return msgspec.json.encode(pairs).decode()


# --- the writer ------------------------------------------------------------------


def _encoder_for(settings: ExportSettings, *, formula_guard: bool) -> RecordEncoder:
    if settings.format == "csv":
        return CsvEncoder(formula_guard=formula_guard)
    return JsonlEncoder()


@dataclass(slots=True)
class _Batch:
    chunks: list[bytes]
    records: int = 0


class ExportWriter:
    """Append whole records to the output and keep its checkpoint current.

    Open one with `create` (a new export) or `resume`; `write` each customer;
    `finish` when the scan is complete, or `close` to stop where it is (every
    record written so far is committed). A batch is committed when it holds
    ``batch_records`` records or is ``batch_seconds`` old. The output is locked
    while open, so two exports cannot write one file.
    """

    def __init__(
        self,
        out: Path,
        file: BinaryIO,
        checkpoint: Checkpoint,
        encoder: RecordEncoder,
        *,
        batch_records: int,
        batch_seconds: float,
    ) -> None:
        self.out = out
        self.checkpoint = checkpoint
        self._checkpoint_path = checkpoint_path(out)
        self._file = file
        self._encoder = encoder
        self._batch = _Batch([])
        self._batch_records = batch_records
        self._batch_seconds = batch_seconds
        self._batch_started = time.monotonic()

    @classmethod
    def create(
        cls,
        out: Path,
        settings: ExportSettings,
        *,
        overwrite: bool,
        formula_guard: bool = True,
        batch_records: int = 1000,
        batch_seconds: float = 1.0,
    ) -> Self:
        """Start a new export into ``out``; refuse an existing file unless ``overwrite``."""
        try:
            file = out.open("xb") if not overwrite else out.open("ab")
        except FileExistsError:
            raise ExportRefusedError(
                f"{out} exists; pass --resume to continue that export or --overwrite to start over"
            ) from None
        try:
            _lock(file, out)
            # Checkpoint first: a crash between the two must not pair an old
            # checkpoint with an emptied file.
            with contextlib.suppress(FileNotFoundError):
                checkpoint_path(out).unlink()
            file.truncate(0)
            encoder = _encoder_for(settings, formula_guard=formula_guard)
            checkpoint = Checkpoint(settings=settings)
            writer = cls(
                out,
                file,
                checkpoint,
                encoder,
                batch_records=batch_records,
                batch_seconds=batch_seconds,
            )
            writer._append(encoder.header(), records=0)
        except BaseException:
            file.close()
            raise
        return writer

    @classmethod
    def resume(
        cls,
        out: Path,
        settings: ExportSettings,
        *,
        formula_guard: bool = True,
        batch_records: int = 1000,
        batch_seconds: float = 1.0,
    ) -> Self:
        """Continue the export in ``out``: cut it to its checkpoint, check the settings match.

        With neither the output nor its checkpoint present, start a new export,
        so a scheduler may always pass ``--resume``.
        """
        cp_path = checkpoint_path(out)
        checkpoint = read_checkpoint(cp_path)
        if checkpoint is None:
            if out.exists():
                raise ExportRefusedError(
                    f"{out} exists but has no checkpoint ({cp_path.name}), so nothing tells "
                    "how much of it is complete; start over with --overwrite"
                )
            return cls.create(
                out,
                settings,
                overwrite=False,
                formula_guard=formula_guard,
                batch_records=batch_records,
                batch_seconds=batch_seconds,
            )
        _check_same(checkpoint.settings, settings, out)
        try:
            file = out.open("r+b")
        except FileNotFoundError:
            raise ExportRefusedError(
                f"{out} is gone but its checkpoint remains; start over with --overwrite"
            ) from None
        try:
            _lock(file, out)
            _check_size(file, checkpoint, out)
            # Whatever lies past the checkpoint may be torn: drop it.
            file.truncate(checkpoint.bytes)
            file.seek(0, os.SEEK_END)
            os.fsync(file.fileno())
        except BaseException:
            file.close()
            raise
        return cls(
            out,
            file,
            checkpoint,
            _encoder_for(settings, formula_guard=formula_guard),
            batch_records=batch_records,
            batch_seconds=batch_seconds,
        )

    @property
    def records(self) -> int:
        """Records written, committed or not."""
        return self.checkpoint.records + self._batch.records

    def write(self, customer: Any) -> None:
        """Add one customer; commit the batch when it is big or old enough."""
        batch = self._batch
        if not batch.records:
            self._batch_started = time.monotonic()
        batch.chunks.append(self._encoder.encode(customer))
        batch.records += 1
        if (
            batch.records >= self._batch_records
            or time.monotonic() - self._batch_started >= self._batch_seconds
        ):
            self.commit()

    def commit(self) -> None:
        """Append the batch, fsync it, then move the checkpoint past it."""
        batch = self._batch
        if batch.records:
            self._batch = _Batch([])
            self._append(b"".join(batch.chunks), records=batch.records)

    def finish(self) -> None:
        """Commit the rest, mark the export complete, and close the file."""
        self.commit()
        self.checkpoint.complete = True
        write_checkpoint(self._checkpoint_path, self.checkpoint)
        self._file.close()

    def close(self) -> None:
        """Commit every whole record written so far and close the file."""
        if self._file.closed:
            return
        try:
            self.commit()
        finally:
            self._file.close()

    def _append(self, data: bytes, *, records: int) -> None:
        file = self._file
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
        self.checkpoint.records += records
        # The file's own size, not a running sum: the checkpoint vouches for what is on disk.
        self.checkpoint.bytes = os.fstat(file.fileno()).st_size
        write_checkpoint(self._checkpoint_path, self.checkpoint)


def _lock(file: BinaryIO, out: Path) -> None:
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise ExportRefusedError(f"another export is writing {out} right now") from None


def _check_size(file: BinaryIO, checkpoint: Checkpoint, out: Path) -> None:
    size = os.fstat(file.fileno()).st_size
    if size < checkpoint.bytes:
        raise ExportRefusedError(
            f"{out} holds {size} bytes but its checkpoint vouches for {checkpoint.bytes}: "
            "it was changed outside the export; start over with --overwrite"
        )


def _check_same(saved: ExportSettings, wanted: ExportSettings, out: Path) -> None:
    names = {"format": "--format", "sort": "--sort", "order": "--order", "base_url": "--base-url"}
    for field, option in names.items():
        before, now = getattr(saved, field) or "none", getattr(wanted, field) or "none"
        if before != now:
            raise ExportRefusedError(
                f"cannot resume {out}: it was exported with {option} {before}, "
                f"not {now}; resume with {option} {before}, or start over with --overwrite"
            )
