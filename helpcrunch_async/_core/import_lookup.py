"""How the import finds the customers its rows name: many keys to one search.

This module is pure (no I/O, no clock). The rules:

1. The keys of a window of rows are looked up in searches of ``size`` keys
   each: one ``=`` filter on the key field per key, joined with ``OR``. The
   first size is `START_KEYS`: a search page holds at most 100 customers, so
   more keys could not share one page anyway.
2. The docs do not say how many filters one search takes. A search of more than
   one key that the server refuses (400, 413 or 414) is split in two, and the
   size the run uses from then on halves (`smaller`): the server's limit is
   learned for the price of one refused request each time it halves. A search of
   one key that is refused is a real error.
3. A search whose matches fill more than one page is read on, page by page
   (`next_offset`), until its total is read: a key may match many customers.
4. A customer matches a key only when its key field equals the key exactly (a
   search may match more loosely, e.g. ignoring case); each key gets every
   customer that carries it (`by_key`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from helpcrunch_async._core.import_rows import Match
    from helpcrunch_async._models.customers import Customer

__all__ = [
    "REFUSED_SIZE_STATUSES",
    "SEARCH_FIELDS",
    "START_KEYS",
    "batches",
    "by_key",
    "next_offset",
    "smaller",
]

START_KEYS: Final = 100
"""Keys in one search until the server refuses that many (rule 1)."""
PAGE: Final = 100
REFUSED_SIZE_STATUSES: Final = frozenset({400, 413, 414})
"""The answers to a search of many keys that make the size halve (rule 2)."""
SEARCH_FIELDS: Final = {"user_id": "customers.userId", "email": "customers.email"}


def batches(keys: Sequence[str], size: int) -> list[list[str]]:
    """Split ``keys`` into searches of at most ``size`` keys (rule 1)."""
    step = max(1, size)
    return [list(keys[k : k + step]) for k in range(0, len(keys), step)]


def smaller(size: int, keys: int) -> int | None:
    """Return the size after a refused search of ``keys`` keys; None if it held one (rule 2)."""
    if keys <= 1:
        return None
    return max(1, min(size, keys) // 2)


def next_offset(offset: int, got: int, total: int) -> int | None:
    """Return the offset of the next page of a search, None once its total is read (rule 3)."""
    following = offset + got
    if got == 0 or following >= total:
        return None
    return following


def by_key(
    keys: Iterable[str], found: Iterable[Customer], match: Match
) -> dict[str, list[Customer]]:
    """Group the customers ``found`` under the keys they carry exactly (rule 4)."""
    groups: dict[str, list[Customer]] = {key: [] for key in keys}
    seen: set[int] = set()
    for customer in found:
        value = customer.user_id if match == "user_id" else customer.email
        if value in groups and customer.id not in seen:
            seen.add(customer.id)
            groups[value].append(customer)
    return groups
