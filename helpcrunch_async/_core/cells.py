"""The CSV form of a customer: its columns, in order, and one text cell per column.

Nested objects are flattened with a dot (``location.city``), nulls are empty
cells, booleans ``true``/``false``, timestamps unix seconds plus an ISO 8601 UTC
copy, tags joined by ``|`` and custom data as one JSON object. A text cell that
a spreadsheet would run as a formula is guarded by a leading apostrophe.

This module is pure: it turns values into text and does no I/O.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from typing import Any, Final

import msgspec

__all__ = [
    "CSV_COLUMNS",
    "FORMULA_RULES",
    "cell",
    "csv_cells",
    "customer_values",
    "is_formula",
    "iso_utc",
    "join_tags",
    "split_tags",
    "timestamp",
    "unguard_cell",
]

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

# Formula guard (OWASP "CSV injection"): a customer's name is typed by a website
# visitor, so it must not run in the support team's Excel. A leading apostrophe
# makes a cell text. The rules, in order:
#   1. A cell starting with `=` or `@`, a tab or a carriage return is guarded:
#      each starts a formula (or hides one behind blank space).
#   2. A cell starting with an apostrophe is guarded, so that `unguard_cell`
#      (drop one leading apostrophe) inverts the guard exactly.
#   3. A cell starting with `+` or `-` is guarded unless the rest holds only the
#      characters of a number or a phone number (digits, space, `. , ( ) / + -`)
#      or is a number with an exponent (`1.5e+16`): a formula can then reach no
#      function, cell, sheet or DDE link, since each needs a letter or a sign
#      such as `! | : $ "`. So `+1 555 0100`, `-12.5`, `-1e+16` and
#      `+7 (777) 123-45-67` stay as they are; `+HYPERLINK(...)`, `-A1`,
#      `+cmd|' /C calc'!A0` and `-2+3+cmd|...` are guarded.
# The number of these rules, kept in a CSV export's checkpoint: a file begun
# under other rules (1: every leading = + - @ guarded) cannot be resumed under these.
FORMULA_RULES: Final = 2
_ALWAYS_GUARDED: Final = frozenset("=@\t\r'")
_SIGNS: Final = frozenset("+-")
_NUMBER_CHARS: Final = frozenset("0123456789 .,()/+-")
_EXPONENT_NUMBER: Final = re.compile(r"[0-9]*\.?[0-9]+[eE][+-]?[0-9]+")


def csv_cells(customer: Any, *, formula_guard: bool = True) -> tuple[str, ...]:
    """Return the cells of `CSV_COLUMNS` for one customer (a Struct or the API's dict).

    Nulls are empty cells, booleans ``true``/``false``, timestamps unix seconds
    plus an ISO 8601 UTC copy. ``tags`` holds the tag names joined by ``|``
    (see `join_tags`); ``customData`` a JSON object ``{property: value}``, so a
    spreadsheet's "contains" filter finds ``"Plan":"Premium"``. With
    ``formula_guard`` a text cell that a spreadsheet would run as a formula
    (`is_formula`: ``=`` or ``@`` first, ``+`` or ``-`` before anything but a
    number or phone number, a tab, a carriage return) or that starts with an
    apostrophe gets one leading apostrophe (`unguard_cell` undoes it).
    """
    values = customer_values(msgspec.to_builtins(customer))
    return tuple(cell(value, formula_guard=formula_guard) for value in values)


def customer_values(raw: dict[str, Any]) -> tuple[Any, ...]:
    """Return the values of `CSV_COLUMNS` for one customer's JSON, before they become text."""
    location = raw.get("location") or {}
    device = raw.get("device") or {}
    first_seen = timestamp(raw.get("firstSeen"))
    last_seen = timestamp(raw.get("lastSeen"))
    tags = [tag.get("name") or "" for tag in raw.get("tags") or ()]
    return (
        raw.get("id"),
        raw.get("name"),
        raw.get("email"),
        raw.get("userId"),
        raw.get("company"),
        raw.get("phone"),
        first_seen,
        iso_utc(first_seen),
        last_seen,
        iso_utc(last_seen),
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


def cell(value: Any, *, formula_guard: bool) -> str:
    """Return one CSV cell: empty for null, ``true``/``false``, numbers as written, guarded text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if formula_guard and is_formula(text):
        return "'" + text
    return text


def is_formula(text: str) -> bool:
    """Return whether the formula guard puts an apostrophe before ``text`` (rules above)."""
    if not text:
        return False
    first = text[0]
    if first in _ALWAYS_GUARDED:
        return True
    rest = text[1:]
    return (
        first in _SIGNS
        and not _NUMBER_CHARS.issuperset(rest)
        and _EXPONENT_NUMBER.fullmatch(rest) is None
    )


def timestamp(value: Any) -> int | float | None:
    """Return unix seconds from an int, a float or a numeric string (``"1594139170.913"``)."""
    # The models normalise timestamps; a numeric string is accepted too.
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        with contextlib.suppress(ValueError):
            number = float(text)
            if math.isfinite(number):
                return number
    return None


def iso_utc(seconds: float | None) -> str | None:
    """Return ``seconds`` as ISO 8601 UTC to the second, e.g. ``2020-06-25T07:08:44Z``."""
    if seconds is None:
        return None
    try:
        moment = dt.datetime.fromtimestamp(int(seconds), tz=dt.UTC)
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
