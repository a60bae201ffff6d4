"""The ids a sync holds, stored compactly in dlt's state.

This module is pure: it imports neither aiohttp nor asyncio and does no I/O.

dlt keeps its state as JSON (bytes are allowed) in the pipeline folder and in the
destination, and loads it with every package. A list of 754,698 ids as JSON is
about 5 MB; sorted, delta-encoded as unsigned LEB128 varints and zlib-compressed,
auto-increment ids with a few gaps take a few kilobytes.
"""

from __future__ import annotations

import zlib
from array import array
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["decode_ids", "encode_ids"]

_SEVEN = 0x7F
_MORE = 0x80


def encode_ids(ids: Iterable[int]) -> bytes:
    """Return ``ids`` (non-negative ints, any order, repeats dropped) as compact bytes."""
    ordered = sorted(set(ids))
    if ordered and ordered[0] < 0:
        raise ValueError("ids must not be negative")
    out = bytearray()
    previous = 0
    for value in ordered:
        delta = value - previous
        previous = value
        while delta > _SEVEN:
            out.append((delta & _SEVEN) | _MORE)
            delta >>= 7
        out.append(delta)
    return zlib.compress(bytes(out), 6)


def decode_ids(blob: bytes) -> array[int]:
    """Return the sorted ids that `encode_ids` stored in ``blob``."""
    raw = zlib.decompress(blob)
    ids: array[int] = array("q")
    value = 0
    delta = 0
    shift = 0
    for byte in raw:
        delta |= (byte & _SEVEN) << shift
        if byte & _MORE:
            shift += 7
            continue
        value += delta
        ids.append(value)
        delta = 0
        shift = 0
    if shift:
        raise ValueError("truncated id list")
    return ids
