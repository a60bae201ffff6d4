"""What a ``Dataset`` keeps of its customers beyond the hash: records and sorted views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from array import array

Key = tuple[int, int]
Picks = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Inserted:
    """A customer added by drift or the API: its keys, its bytes, its document."""

    id: int
    first_seen: int
    last_seen: int
    body: bytes
    picks: tuple[int, int, int]
    # A customer written through the API: its whole JSON object (see ``store``).
    doc: dict[str, Any] | None = None


class Record(NamedTuple):
    """What search compares of one customer: id, timestamps, fragment picks."""

    id: int
    first_seen: int
    last_seen: int
    identity: int
    place: int
    profile: int


@dataclass(slots=True)
class View:
    """One sort field's permutation and its merge with the current drift."""

    perm: array[int] | None  # None: the identity (id order)
    version: int = -1
    deleted_positions: tuple[int, ...] = ()
    inserted_positions: tuple[int, ...] = ()
    inserted_refs: tuple[int, ...] = ()
    inserted_keys: tuple[Key, ...] = ()
