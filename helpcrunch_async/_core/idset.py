"""A compact set of integer ids, for dropping customers seen twice in one scan.

This module is pure: it imports neither aiohttp nor asyncio.

Ids are split like a roaring bitmap: the high bits pick a chunk of 65,536
ids; a chunk holds a sorted ``array('H')`` of its low 16 bits while it has at
most 256 members, and a bitmap of one bit an id beyond that. Any int is
accepted, negative or huge: the split is exact for all of them. Why not a
``set``: docs/design.md, "Paging".
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = ["IdSet"]

_LOW_BITS = 16
_LOW_MASK = (1 << _LOW_BITS) - 1
# Past this many members a chunk becomes a bitmap: still 2 bytes an id for sparse
# ids, while dense (auto-increment) ids soon take the bitmap's fast path.
_ARRAY_MAX = 256
_BITMAP_BYTES = (1 << _LOW_BITS) // 8


class IdSet:
    """A set of ints that only grows: `add` reports whether an id is new."""

    __slots__ = ("_chunks", "_size")

    def __init__(self) -> None:
        self._chunks: dict[int, array[int] | bytearray] = {}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __contains__(self, value: int) -> bool:
        chunk = self._chunks.get(value >> _LOW_BITS)
        if chunk is None:
            return False
        low = value & _LOW_MASK
        if type(chunk) is bytearray:
            return bool(chunk[low >> 3] & (1 << (low & 7)))
        i = bisect_left(chunk, low)
        return i < len(chunk) and chunk[i] == low

    def add(self, value: int) -> bool:
        """Add ``value``; return True if it was not yet in the set."""
        high = value >> _LOW_BITS
        low = value & _LOW_MASK
        chunk = self._chunks.get(high)
        if chunk is None:
            self._chunks[high] = array("H", (low,))
            self._size += 1
            return True
        if type(chunk) is bytearray:
            byte = chunk[low >> 3]
            bit = 1 << (low & 7)
            if byte & bit:
                return False
            chunk[low >> 3] = byte | bit
            self._size += 1
            return True
        i = bisect_left(chunk, low)
        if i < len(chunk) and chunk[i] == low:
            return False
        if len(chunk) < _ARRAY_MAX:
            chunk.insert(i, low)
        else:
            self._chunks[high] = bitmap = bytearray(_BITMAP_BYTES)
            for member in chunk:
                bitmap[member >> 3] |= 1 << (member & 7)
            bitmap[low >> 3] |= 1 << (low & 7)
        self._size += 1
        return True

    def add_many(self, values: Sequence[int]) -> list[bool]:
        """Add each of ``values``; return, for each, whether it was new.

        The same as calling `add` in a loop, about three times faster: ids of one
        page mostly share a chunk, so the chunk is looked up once for a run.
        """
        chunks = self._chunks
        result: list[bool] = []
        append = result.append
        high_seen: int | None = None
        chunk: array[int] | bytearray | None = None
        for value in values:
            high = value >> _LOW_BITS
            if high != high_seen:
                chunk = chunks.get(high)
                high_seen = high
            if chunk.__class__ is bytearray:
                low = value & _LOW_MASK
                index = low >> 3
                bit = 1 << (low & 7)
                byte = chunk[index]
                if byte & bit:
                    append(False)
                else:
                    chunk[index] = byte | bit
                    self._size += 1
                    append(True)
            else:
                append(self.add(value))
                # add() may have created the chunk or turned it into a bitmap.
                chunk = chunks.get(high)
        return result

    def __iter__(self) -> Iterator[int]:
        """Yield the members in ascending order."""
        for high in sorted(self._chunks):
            chunk = self._chunks[high]
            base = high << _LOW_BITS
            if type(chunk) is bytearray:
                for index, byte in enumerate(chunk):
                    if byte:
                        low = index << 3
                        yield from (base + low + bit for bit in range(8) if byte & (1 << bit))
            else:
                yield from (base + low for low in chunk)

    def memory_bytes(self) -> int:
        """Return the bytes held by the chunks' payloads (not counting the dict)."""
        return sum(
            len(c) if isinstance(c, bytearray) else len(c) * c.itemsize
            for c in self._chunks.values()
        )
