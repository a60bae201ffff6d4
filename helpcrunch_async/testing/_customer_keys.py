"""Which customers carry an email or a userId, found without reading every customer.

A base customer takes its identity (name, email, userId, company, phone) from a pool
of ``IDENTITY_POOL`` entries (see ``_pools``), so the customers whose email is ``x``
are those whose identity pick is one of the entries with that email. The inverse of
the pick (pool entry to base indices, 4 bytes a customer) is built on the first
equality search by email or userId, in one pass over the base; the base never
changes, so neither does it (deleted base customers are left for the caller to skip).

Customers added since (drift, visits, API writes: the ``Inserted`` entries) are kept
in dicts updated on every add and removal: a pool customer by its identity pick, a
written one by its own email and userId. So an equality search costs the customers
that match, not the account's size.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from helpcrunch_async.testing._customer_records import Inserted

KEY_FIELDS: dict[str, str] = {"customers.email": "email", "customers.userId": "userId"}
"""The search fields whose ``=`` this index answers, and the identity key of each."""


class CustomerKeys:
    """The customers of one dataset by email and by userId (see the module's docstring)."""

    def __init__(
        self,
        size: int,
        identity_pick: Callable[[int], int],
        identities: Callable[[], Sequence[Mapping[str, Any]]],
    ) -> None:
        """Index nothing yet: the base's inverse is built on the first lookup.

        ``identity_pick(i)`` is base customer ``i``'s identity pool entry;
        ``identities()`` the decoded pool (asked for on the first lookup).
        """
        self._size = size
        self._identity_pick = identity_pick
        self._identities = identities
        self._base: list[array[int]] | None = None
        self._picks: dict[tuple[str, Any], list[int]] | None = None
        self._by_pick: dict[int, set[int]] = {}
        self._by_value: dict[tuple[str, Any], set[int]] = {}

    def add(self, ref: int, entry: Inserted) -> None:
        """Index an added customer (``ref`` < 0)."""
        for key in self._keys(entry):
            self._bucket(key).add(ref)

    def discard(self, ref: int, entry: Inserted) -> None:
        """Forget a removed customer (``ref`` < 0)."""
        for key in self._keys(entry):
            bucket = self._bucket(key)
            bucket.discard(ref)
            if not bucket:
                self._drop(key)

    def lookup(self, field: str, value: Any) -> Iterator[int]:
        """Yield the refs whose ``field`` (a key of `KEY_FIELDS`) equals ``value``.

        Base indices among them may be deleted ones: the caller skips those.
        """
        key = KEY_FIELDS[field]
        base = self._inverse()
        for pick in self._pick_index().get((key, value), ()):
            yield from base[pick]
            yield from self._by_pick.get(pick, ())
        yield from self._by_value.get((key, value), ())

    def _keys(self, entry: Inserted) -> list[tuple[str, Any] | int]:
        if entry.doc is None:
            return [entry.picks[0]]
        keys: list[tuple[str, Any] | int] = []
        for name in KEY_FIELDS.values():
            value = entry.doc.get(name)
            # A written value is a string or null; only a string equals a search's value.
            if isinstance(value, str):
                keys.append((name, value))
        return keys

    def _bucket(self, key: tuple[str, Any] | int) -> set[int]:
        if isinstance(key, int):
            return self._by_pick.setdefault(key, set())
        return self._by_value.setdefault(key, set())

    def _drop(self, key: tuple[str, Any] | int) -> None:
        if isinstance(key, int):
            del self._by_pick[key]
        else:
            del self._by_value[key]

    def _pick_index(self) -> dict[tuple[str, Any], list[int]]:
        if self._picks is None:
            picks: dict[tuple[str, Any], list[int]] = {}
            for pick, identity in enumerate(self._identities()):
                for name in KEY_FIELDS.values():
                    value = identity.get(name)
                    if isinstance(value, str):
                        picks.setdefault((name, value), []).append(pick)
            self._picks = picks
        return self._picks

    def _inverse(self) -> list[array[int]]:
        if self._base is None:
            base: list[array[int]] = [array("I") for _ in self._identities()]
            pick = self._identity_pick
            for index in range(self._size):
                base[pick(index)].append(index)
            self._base = base
        return self._base
