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
from typing import Any, Final

import msgspec

__all__ = [
    "CSV_COLUMNS",
    "cell",
    "csv_cells",
    "customer_values",
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

# A cell starting with one of these is a formula to a spreadsheet: a customer's
# name is typed by a website visitor, so it must not run in the support team's
# Excel (OWASP "CSV injection"). A leading apostrophe makes it text.
_FORMULA_STARTS: Final = frozenset("=+-@\t\r'")


def csv_cells(customer: Any, *, formula_guard: bool = True) -> tuple[str, ...]:
    """Return the cells of `CSV_COLUMNS` for one customer (a Struct or the API's dict).

    Nulls are empty cells, booleans ``true``/``false``, timestamps unix seconds
    plus an ISO 8601 UTC copy. ``tags`` holds the tag names joined by ``|``
    (see `join_tags`); ``customData`` a JSON object ``{property: value}``, so a
    spreadsheet's "contains" filter finds ``"Plan":"Premium"``. With
    ``formula_guard`` a text cell starting with ``= + - @``, a tab, a carriage
    return or an apostrophe gets one leading apostrophe (`unguard_cell` undoes it).
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
    if formula_guard and text and text[0] in _FORMULA_STARTS:
        return "'" + text
    return text


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
