r"""The checkpoint beside an export: what it was made with, how much of it is whole.

``FILE.checkpoint.json`` records the export's settings (kind, format, sort,
order, page size, base URL, the CSV options), how many records are complete and
how many bytes hold them, whether the export finished, and the device and inode
of the output it vouches for, so that a resume can tell that the file is still
the one this export wrote. It never holds the API key.

It is replaced atomically: written to a temporary file with an unpredictable
name, created exclusively (``O_EXCL``, so a link planted beside the output is
never followed), fsynced, ``os.replace``\ d over the old one, the directory
fsynced. It is read without following a symbolic link.

This module does no network I/O and imports neither aiohttp nor asyncio.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Final, Literal

import msgspec

from helpcrunch_async._core.refusals import ExportRefusedError
from helpcrunch_async._version import VERSION

__all__ = [
    "CHECKPOINT_VERSION",
    "FORMATS",
    "TOOL_VERSION",
    "ChatList",
    "Checkpoint",
    "ExportRefusedError",
    "ExportSettings",
    "Format",
    "Mark",
    "check_same",
    "checkpoint_path",
    "read_checkpoint",
    "read_own_file",
    "replace_file",
    "write_checkpoint",
]

Format = Literal["jsonl", "csv"]
FORMATS: tuple[str, ...] = ("jsonl", "csv")
# 2: the CSV options and the output's device and inode joined the checkpoint.
CHECKPOINT_VERSION: Final = 2
TOOL_VERSION: Final = VERSION


class ExportSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What an export is made with; a resume must match it.

    ``formula_guard`` (CSV: a leading apostrophe before a formula, see
    `cells.is_formula`; off with ``--csv-raw``) and ``excel`` (CSV: a
    byte-order mark first) shape the bytes, so a resume with another value
    would mix two forms in one file.
    """

    kind: str = "customers"
    format: Format
    sort: str | None
    order: str
    page_size: int
    base_url: str
    formula_guard: bool = True
    # The guard's rules (`cells.FORMULA_RULES`); absent from checkpoints written
    # before they were numbered, whose CSV guarded every leading + and -.
    formula_rules: int = 1
    excel: bool = False
    # Searchable kinds: each --filter as given (FIELD, OP, VALUE), and --comparison.
    filters: tuple[tuple[str, str, str], ...] = ()
    comparison: str = "AND"
    # messages: the SHA-256 of the chat list given by --chats (None: every chat).
    chats_sha256: str | None = None


class Mark(msgspec.Struct, kw_only=True):
    """The last point after a whole group of records (``messages``: after a whole chat).

    ``position`` groups are done, and their records are the first ``records``
    records, in the first ``bytes`` bytes. A resume of a grouped export starts
    here, so that no group is split between two runs.
    """

    position: int = 0
    records: int = 0
    bytes: int = 0


class ChatList(msgspec.Struct, frozen=True, kw_only=True):
    """The chat list of a messages export (see `chat_list`): how many ids, and their SHA-256."""

    count: int
    sha256: str


class Checkpoint(msgspec.Struct, kw_only=True):
    """How far the output is complete, and what it was made with (never the key)."""

    version: int = CHECKPOINT_VERSION
    tool_version: str = TOOL_VERSION
    settings: ExportSettings
    # Whole records in the first `bytes` bytes of the output.
    records: int = 0
    bytes: int = 0
    complete: bool = False
    # The output file this checkpoint vouches for (os.stat's st_dev and st_ino).
    device: int = 0
    inode: int = 0
    # Only for a grouped export; see Mark.
    mark: Mark | None = None
    # Only for a messages export, once its chat list is whole on disk.
    chats: ChatList | None = None


_MARK_FIELDS: Final = ("position", "records", "bytes")


def checkpoint_path(out: Path) -> Path:
    """Return the checkpoint file that sits beside the output ``out``."""
    return out.with_name(out.name + ".checkpoint.json")


def read_checkpoint(path: Path) -> Checkpoint | None:
    """Return the checkpoint at ``path``, None if there is none; refuse a damaged one.

    A symbolic link at ``path`` is refused, not followed.
    """
    data = read_own_file(path, "the checkpoint")
    if data is None:
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
    _check_numbers(checkpoint, path)
    return checkpoint


def read_own_file(path: Path, what: str) -> bytes | None:
    """Return the bytes of a file this tool wrote (None if absent), refusing a link.

    ``what`` names the file in the refusal ("the checkpoint").
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ExportRefusedError(
                f"{what} {path} is a symbolic link, which this tool never writes; "
                "remove it, or start over with --overwrite"
            ) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ExportRefusedError(f"{what} {path} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as file:
            return file.read()
    finally:
        os.close(fd)


def _check_numbers(checkpoint: Checkpoint, path: Path) -> None:
    numbers = {name: getattr(checkpoint, name) for name in ("records", "bytes", "device", "inode")}
    mark = checkpoint.mark
    if mark is not None:
        numbers.update({f"mark.{name}": getattr(mark, name) for name in _MARK_FIELDS})
    for name, value in numbers.items():
        if value < 0:
            raise ExportRefusedError(
                f"the checkpoint {path} is damaged: {name} is {value}, and a count cannot "
                "be negative; start over with --overwrite"
            )
    if mark is not None and (mark.records > checkpoint.records or mark.bytes > checkpoint.bytes):
        raise ExportRefusedError(
            f"the checkpoint {path} is damaged: its mark ({mark.records} records in "
            f"{mark.bytes} bytes) lies past its end ({checkpoint.records} records in "
            f"{checkpoint.bytes} bytes); start over with --overwrite"
        )


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Replace the checkpoint at ``path`` atomically and durably."""
    replace_file(path, msgspec.json.format(msgspec.json.encode(checkpoint)) + b"\n")


def replace_file(path: Path, data: bytes) -> None:
    """Replace the file at ``path`` with ``data`` atomically and durably, following no link."""
    # mkstemp creates with O_EXCL | O_NOFOLLOW under a random name: nothing
    # planted beside the output can redirect this write.
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        # rename replaces a directory entry: a link at `path` is replaced, never followed.
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(path)


def fsync_dir(path: Path) -> None:
    """Make a rename or creation of ``path`` durable: fsync its directory."""
    fd = os.open(path.parent, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# The options that name each setting in a refusal.
_OPTIONS: Final = {
    "format": "--format",
    "sort": "--sort",
    "order": "--order",
    "base_url": "--base-url",
}
_FLAGS: Final = {"excel": ("--excel", True), "formula_guard": ("--csv-raw", False)}


def check_same(saved: ExportSettings, wanted: ExportSettings, out: Path) -> None:
    """Refuse to resume ``out`` with settings other than those it was made with."""
    if saved.kind != wanted.kind:
        raise ExportRefusedError(
            f"cannot resume {out}: it is an export of {saved.kind}, not {wanted.kind}; "
            f"resume it with `export {saved.kind}`, or start over with --overwrite"
        )
    if (saved.filters, saved.comparison) != (wanted.filters, wanted.comparison):
        raise ExportRefusedError(
            f"cannot resume {out}: it was exported with {_filters_text(saved)}, not "
            f"{_filters_text(wanted)}; resume with the same --filter and --comparison, "
            "or start over with --overwrite"
        )
    if saved.chats_sha256 != wanted.chats_sha256:
        given = "every chat" if saved.chats_sha256 is None else "another --chats list"
        raise ExportRefusedError(
            f"cannot resume {out}: it was exported for {given}; resume with the same "
            "--chats file (or none), or start over with --overwrite"
        )
    for field, option in _OPTIONS.items():
        before, now = getattr(saved, field) or "none", getattr(wanted, field) or "none"
        if before != now:
            raise ExportRefusedError(
                f"cannot resume {out}: it was exported with {option} {before}, "
                f"not {now}; resume with {option} {before}, or start over with --overwrite"
            )
    for field, (flag, flag_value) in _FLAGS.items():
        before = getattr(saved, field)
        if before != getattr(wanted, field):
            had = "with" if before == flag_value else "without"
            raise ExportRefusedError(
                f"cannot resume {out}: it was exported {had} {flag}, and one file cannot mix "
                f"both forms; resume {had} {flag}, or start over with --overwrite"
            )
    guarded = saved.format == "csv" and saved.formula_guard
    if guarded and saved.formula_rules != wanted.formula_rules:
        raise ExportRefusedError(
            f"cannot resume {out}: its CSV cells were guarded by the rules of another version "
            f"of this tool ({saved.formula_rules}, these are {wanted.formula_rules}), and one "
            "file cannot mix both forms; start over with --overwrite, or finish it with the "
            "version that began it"
        )


def _filters_text(settings: ExportSettings) -> str:
    if not settings.filters:
        return "no --filter"
    shown = " ".join(f"--filter {field} {op} {value!r}" for field, op, value in settings.filters)
    return f"{shown} --comparison {settings.comparison}"
