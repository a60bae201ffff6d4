"""Deterministic synthetic customers, generated on demand, in the server's sort orders.

Customer ``i`` (0-based, in id order) is a pure function of ``(seed, i)``: one 64-bit
splitmix hash gives its id gap and timestamps, and one more multiply picks its identity,
place and profile fragments from pools built once per seed (see ``_pools``). Nothing per
customer is stored: a million customers cost the pools plus, once a sorted order is
asked for, two timestamp arrays and one permutation per sort field (about 8 bytes per
customer each). Encoding one customer takes a few microseconds, so nothing is cached
here (the server keeps a small LRU of whole pages, see ``_pages``).

Ids increase with ``i`` with gaps, as auto-increment ids shared with other accounts do:
``id = 100000 + 7*i + (hash % 7)``, so they are unique and ``i = (id - 100000) // 7``.

Orders (the server's contract, relied on by ``expected_ids``):

- no sort: by id ascending; ``order=desc`` reverses it.
- ``customers.firstSeen`` / ``customers.lastSeen``: by the key ``(timestamp, id)`` with
  null as the smallest timestamp. So ``asc`` puts nulls first and breaks ties by id
  ascending; ``desc`` is exactly the ascending order reversed: nulls last, ties by id
  descending.

Drift: ``insert`` adds customers with fresh ids whose keys place them at the ``start``
or ``end`` of the reference order, or at ``random`` places; ``delete`` removes customers
from the start, the end or random places of an order, or by id. Deleted base customers
are a bitmap, inserted ones a small dict; a sorted view merges them into the base
permutation lazily, so a few hundred changes on a large dataset cost milliseconds.
"""

from __future__ import annotations

import bisect
import random
from array import array
from typing import TYPE_CHECKING, Any, Literal, get_args

import msgspec

from helpcrunch_async.testing._customer_keys import CustomerKeys
from helpcrunch_async.testing._customer_records import Inserted, Key, Picks, Record, View
from helpcrunch_async.testing._pools import (
    IDENTITY_POOL,
    PLACE_POOL,
    PROFILE_POOL,
    DecodedPools,
    build_pools,
    decode_pools,
)
from helpcrunch_async.testing._splitmix import GOLDEN, MASK, MIX_1, MIX_2, mix

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

SortField = Literal["customers.firstSeen", "customers.lastSeen"]
SORT_FIELDS: tuple[str, ...] = get_args(SortField)
Position = Literal["start", "end", "random"]
POSITIONS: tuple[str, ...] = get_args(Position)

FIRST_ID = 100_000
ID_STRIDE = 7
EPOCH = 1_483_228_800  # 2017-01-01T00:00:00Z
FIRST_SEEN_HOURS = 43_800  # five years: hourly granularity makes ties common
SPAN = FIRST_SEEN_HOURS * 3600
LAST_SEEN_LAG = 400 * 86_400
NULL_TS = -1  # a null timestamp: sorts below every real one


class Dataset:
    """A deterministic customer base of ``size`` customers for ``seed``, with drift."""

    def __init__(
        self,
        size: int,
        seed: int = 0,
        *,
        custom_data_as_object: bool = False,
        timestamps_as_strings: bool = False,
    ) -> None:
        """Build the fragment pools; customers themselves are made on demand."""
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        self.size = size
        self.seed = seed
        self.timestamps_as_strings = timestamps_as_strings
        self.custom_data_as_object = custom_data_as_object
        pools = build_pools(seed, custom_data_as_object=custom_data_as_object)
        self._identities = pools.identities
        self._places = pools.places
        self._profiles = pools.profiles
        self._salt = mix((seed * GOLDEN + 0x5EED) & MASK)
        self.base_body: Callable[[int], bytes] = self._base_encoder()
        self._views: dict[str | None, View] = {None: View(perm=None)}
        self._first_seen: array[int] | None = None
        self._last_seen: array[int] | None = None
        self._deleted: bytearray | None = None
        self._deleted_list: list[int] = []
        self._inserted: dict[int, Inserted] = {}
        self._inserted_ids: dict[int, int] = {}
        self._keys = CustomerKeys(size, lambda index: self.picks(index)[0], self._identity_values)
        self._next_ref = -1
        self._low_id = FIRST_ID - 1
        self._high_id = FIRST_ID + ID_STRIDE * size
        # Called with each customer's body just before a deletion removes it (webhooks).
        self.removing: Callable[[bytes], None] | None = None
        self._future_ts = EPOCH + SPAN + LAST_SEEN_LAG
        self._rng = random.Random(f"helpcrunch-emulator-drift-{seed}")
        self.version = 0

    @property
    def decoded(self) -> DecodedPools:
        """The pools' searchable values (decoded once per seed, on first use)."""
        return decode_pools(self.seed, custom_data_as_object=self.custom_data_as_object)

    def _identity_values(self) -> tuple[dict[str, str | None], ...]:
        return self.decoded.identities

    # -- one customer --------------------------------------------------------------

    def _hash(self, index: int) -> int:
        return mix((self._salt + index * GOLDEN) & MASK)

    def base_id(self, index: int) -> int:
        """Return the id of base customer ``index``."""
        return FIRST_ID + ID_STRIDE * index + self._hash(index) % ID_STRIDE

    def _timestamps(self, h: int) -> tuple[int, int]:
        if (h >> 3) % 10:
            first = EPOCH + ((h >> 8) % FIRST_SEEN_HOURS) * 3600
            return first, first + (h >> 30) % LAST_SEEN_LAG
        # A null firstSeen; half of those have a null lastSeen as well.
        if (h >> 3) % 20 == 0:
            return NULL_TS, NULL_TS
        return NULL_TS, EPOCH + (h >> 30) % SPAN

    def _base_encoder(self) -> Callable[[int], bytes]:
        """Build the hot path: base customer ``index`` to JSON bytes in about 2 us.

        It inlines ``_hash``, ``_timestamps`` and ``_encode`` (keep the three in step;
        the order tests decode every customer and compare with ``_timestamps``): a
        handful of method calls would cost as much as the work itself.
        """
        salt = self._salt
        identities, places, profiles = self._identities, self._places, self._profiles
        ts = b'"%d"' if self.timestamps_as_strings else b"%d"
        null = b"null"
        template = b'{"id":%d,%b,"firstSeen":%b,"lastSeen":%b,%b,%b}'

        def encode(index: int) -> bytes:
            z = (salt + index * GOLDEN) & MASK
            z = ((z ^ (z >> 30)) * MIX_1) & MASK
            z = ((z ^ (z >> 27)) * MIX_2) & MASK
            h = z ^ (z >> 31)
            if (h >> 3) % 10:
                first = EPOCH + ((h >> 8) % FIRST_SEEN_HOURS) * 3600
                first_json = ts % first
                last_json = ts % (first + (h >> 30) % LAST_SEEN_LAG)
            elif (h >> 3) % 20 == 0:
                first_json = last_json = null
            else:
                first_json = null
                last_json = ts % (EPOCH + (h >> 30) % SPAN)
            # One multiply decorrelates the fragment picks from the timestamps' bits.
            k = ((h ^ (h >> 29)) * 0xD6E8FEB86659FD93) & MASK
            return template % (
                FIRST_ID + ID_STRIDE * index + h % ID_STRIDE,
                identities[(k >> 8) % IDENTITY_POOL],
                first_json,
                last_json,
                places[(k >> 24) % PLACE_POOL],
                profiles[(k >> 40) % PROFILE_POOL],
            )

        return encode

    def _encode(self, ident: int, first: int, last: int, picks: tuple[int, int, int]) -> bytes:
        return b"".join(
            (
                b'{"id":',
                str(ident).encode(),
                b",",
                self._identities[picks[0]],
                b',"firstSeen":',
                self._ts_json(first),
                b',"lastSeen":',
                self._ts_json(last),
                b",",
                self._places[picks[1]],
                b",",
                self._profiles[picks[2]],
                b"}",
            )
        )

    def _ts_value(self, ts: int) -> int | str | None:
        if ts == NULL_TS:
            return None
        return str(ts) if self.timestamps_as_strings else ts

    def _ts_json(self, ts: int) -> bytes:
        return msgspec.json.encode(self._ts_value(ts))

    # -- references: base index >= 0, inserted customer < 0 ---------------------------

    def body(self, ref: int) -> bytes:
        """Return the JSON of the customer behind ``ref``."""
        return self.base_body(ref) if ref >= 0 else self._inserted[ref].body

    def bodies(self, refs: list[int]) -> list[bytes]:
        """Return the JSON of each customer behind ``refs`` (a page's worth at once)."""
        if not self._inserted:  # then every reference is a base index
            return list(map(self.base_body, refs))
        return [self.body(ref) for ref in refs]

    def ref_id(self, ref: int) -> int:
        """Return the id of the customer behind ``ref``."""
        return self.base_id(ref) if ref >= 0 else self._inserted[ref].id

    def find(self, customer_id: int) -> int | None:
        """Return the reference of the live customer with ``customer_id``, or None."""
        index, _ = divmod(customer_id - FIRST_ID, ID_STRIDE)
        live = (
            self._deleted is None or not self._deleted[index] if 0 <= index < self.size else False
        )
        if live and self.base_id(index) == customer_id:
            return index
        # Inserted customers, and visited base ones (stored again under their own id).
        return self._inserted_ids.get(customer_id)

    def with_key(self, field: str, value: Any) -> list[int]:
        """Return the refs of the live customers whose email or userId (``field``) is ``value``.

        In no particular order; it costs the customers that match (see ``_customer_keys``).
        """
        deleted = self._deleted
        return [
            ref
            for ref in self._keys.lookup(field, value)
            if ref < 0 or deleted is None or not deleted[ref]
        ]

    def customer_json(self, customer_id: int) -> bytes | None:
        """Return the JSON bytes the server sends for ``customer_id``, or None if absent."""
        ref = self.find(customer_id)
        return None if ref is None else self.body(ref)

    def picks(self, index: int) -> tuple[int, int, int]:
        """Return the identity, place and profile pool picks of base customer ``index``."""
        h = self._hash(index)
        k = ((h ^ (h >> 29)) * 0xD6E8FEB86659FD93) & MASK
        return (k >> 8) % IDENTITY_POOL, (k >> 24) % PLACE_POOL, (k >> 40) % PROFILE_POOL

    def record(self, ref: int) -> Record:
        """Return what search compares of the customer behind ``ref``."""
        if ref < 0:
            rec = self._inserted[ref]
            return Record(rec.id, rec.first_seen, rec.last_seen, *rec.picks)
        first, last = self._timestamps(self._hash(ref))
        return Record(self.base_id(ref), first, last, *self.picks(ref))

    def rank(self, sort: str | None, key: Key) -> int:
        """Return how many live customers sort before ``key`` in the ascending ``sort`` order.

        ``key`` is ``(timestamp, id)`` (``(0, id)`` for id order); so the customers whose
        keys lie in ``[a, b)`` sit at ascending positions ``[rank(a), rank(b))``.
        """
        view = self._view(sort)
        self._refresh(view, sort)
        base_order: range | array[int] = range(self.size) if view.perm is None else view.perm
        p = bisect.bisect_left(base_order, key, key=self._key(sort))
        return (
            p
            - bisect.bisect_left(view.deleted_positions, p)
            + bisect.bisect_left(view.inserted_keys, key)
        )

    # -- orders --------------------------------------------------------------------

    @property
    def total(self) -> int:
        """The number of live customers."""
        return self.size - len(self._deleted_list) + len(self._inserted)

    def refs(self, offset: int, limit: int, sort: str | None, *, descending: bool) -> list[int]:
        """Return the references at ``[offset, offset + limit)`` of the given order."""
        total = self.total
        if offset >= total or limit <= 0:
            return []
        if not descending:
            return self._ascending(offset, min(limit, total - offset), sort)
        stop = total - offset
        start = max(stop - limit, 0)
        chunk = self._ascending(start, stop - start, sort)
        chunk.reverse()
        return chunk

    def ids(self, sort: str | None = None, *, descending: bool = False) -> list[int]:
        """Return every live id in the given order."""
        return [self.ref_id(ref) for ref in self.refs(0, self.total, sort, descending=descending)]

    def _ascending(self, offset: int, count: int, sort: str | None) -> list[int]:
        view = self._view(sort)
        if not self._deleted_list and not self._inserted:
            if view.perm is None:
                return list(range(offset, offset + count))
            return view.perm[offset : offset + count].tolist()
        self._refresh(view, sort)
        return self._merge(view, offset, count)

    def _merge(self, view: View, offset: int, count: int) -> list[int]:
        deleted_positions = view.deleted_positions
        inserted_positions = view.inserted_positions

        def before(p: int) -> int:
            # Live customers ahead of base position p, with the inserts that precede it.
            return (
                p
                - bisect.bisect_left(deleted_positions, p)
                + bisect.bisect_left(inserted_positions, p)
            )

        low, high = 0, self.size
        while low < high:
            mid = (low + high + 1) // 2
            if before(mid) <= offset:
                low = mid
            else:
                high = mid - 1
        p = low
        j = bisect.bisect_left(inserted_positions, p)
        skip = offset - before(p)
        perm = view.perm
        deleted = self._deleted
        out: list[int] = []
        while len(out) < count + skip:
            if j < len(inserted_positions) and inserted_positions[j] <= p:
                out.append(view.inserted_refs[j])
                j += 1
            elif p < self.size:
                index = p if perm is None else perm[p]
                if deleted is None or not deleted[index]:
                    out.append(index)
                p += 1
            else:
                break
        return out[skip:]

    def _view(self, sort: str | None) -> View:
        view = self._views.get(sort)
        if view is None:
            if sort not in SORT_FIELDS:
                raise ValueError(f"unknown sort {sort!r}")
            view = View(perm=self._permutation(self._timestamp_array(sort)))
            self._views[sort] = view
        return view

    def _timestamp_array(self, sort: str) -> array[int]:
        if self._first_seen is None or self._last_seen is None:
            first_seen: array[int] = array("q", bytes(8 * self.size))
            last_seen: array[int] = array("q", bytes(8 * self.size))
            for index in range(self.size):
                first_seen[index], last_seen[index] = self._timestamps(self._hash(index))
            self._first_seen, self._last_seen = first_seen, last_seen
        return self._first_seen if sort == "customers.firstSeen" else self._last_seen

    def _permutation(self, stamps: array[int]) -> array[int]:
        # One composite integer per customer sorts by (timestamp, index) = (timestamp, id)
        # without a million tuples; the index is recovered as the remainder.
        size = max(self.size, 1)
        composite = sorted((ts - NULL_TS) * size + i for i, ts in enumerate(stamps))
        return array("I", (value % size for value in composite))

    def _key(self, sort: str | None) -> Callable[[int], Key]:
        if sort is None:
            return lambda index: (0, self.base_id(index))
        stamps = self._timestamp_array(sort)
        return lambda index: (stamps[index], self.base_id(index))

    def _inserted_key(self, sort: str | None, record: Inserted) -> Key:
        if sort is None:
            return (0, record.id)
        return (record.first_seen if sort == "customers.firstSeen" else record.last_seen, record.id)

    def _refresh(self, view: View, sort: str | None) -> None:
        if view.version == self.version:
            return
        key = self._key(sort)
        positions: Iterable[int]
        if view.perm is None:
            positions = self._deleted_list
        elif len(self._deleted_list) * 64 < self.size:
            perm = view.perm
            positions = (bisect.bisect_left(perm, key(i), key=key) for i in self._deleted_list)
        else:
            deleted = self._deleted or bytearray(self.size)
            positions = (p for p, i in enumerate(view.perm) if deleted[i])
        view.deleted_positions = tuple(sorted(positions))
        base_order: range | array[int] = range(self.size) if view.perm is None else view.perm
        placed = sorted(
            (
                bisect.bisect_left(base_order, self._inserted_key(sort, rec), key=key),
                self._inserted_key(sort, rec),
                ref,
            )
            for ref, rec in self._inserted.items()
        )
        view.inserted_positions = tuple(p for p, _, _ in placed)
        view.inserted_keys = tuple(k for _, k, _ in placed)
        view.inserted_refs = tuple(ref for _, _, ref in placed)
        view.version = self.version

    # -- drift -----------------------------------------------------------------------

    def insert(self, count: int, position: str = "start", *, descending: bool = False) -> list[int]:
        """Add ``count`` customers at ``position`` of the asc or desc orders; return their ids.

        ``start`` of the ascending orders means the smallest keys: ids below every other
        id and null timestamps; ``start`` of the descending orders means the largest:
        fresh high ids and timestamps later than any other. ``end`` is the converse, and
        ``random`` draws timestamps like the base data's, with fresh high ids.
        """
        if position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, got {position!r}")
        small = (position == "start") != descending
        ids: list[int] = []
        for _ in range(count):
            if position == "random":
                ident = self._take_high_id()
                first, last = self._timestamps(self._rng.getrandbits(64))
            elif small:
                ident, first, last = self._take_low_id(), NULL_TS, NULL_TS
            else:
                ident = self._take_high_id()
                self._future_ts += 1
                first = last = self._future_ts
            picks = (
                self._rng.randrange(IDENTITY_POOL),
                self._rng.randrange(PLACE_POOL),
                self._rng.randrange(PROFILE_POOL),
            )
            self._add(Inserted(ident, first, last, self._encode(ident, first, last, picks), picks))
            ids.append(ident)
        self.version += 1
        return ids

    def _add(self, record: Inserted) -> None:
        self._inserted[self._next_ref] = record
        self._keys.add(self._next_ref, record)
        self._inserted_ids[record.id] = self._next_ref
        self._next_ref -= 1

    @property
    def now(self) -> int:
        """The account's present: no later than its next `tick`, after every timestamp it made."""
        return self._future_ts

    def tick(self) -> int:
        """Return a fresh timestamp later than every one in the account (drift's clock)."""
        self._future_ts += 1
        return self._future_ts

    def stamp(self, now: int) -> int:
        """Return the time of a write made at unix second ``now``: never before the drift clock."""
        self._future_ts = max(self._future_ts, now)
        return self._future_ts

    def random_ids(self, count: int) -> list[int]:
        """Return up to ``count`` distinct live ids drawn from the drift stream."""
        where = self._rng.sample(range(self.total), min(count, self.total))
        return [self.ref_id(self.refs(p, 1, None, descending=False)[0]) for p in where]

    def visit(self, ids: Iterable[int], *, at: int | None = None) -> list[int]:
        """Move each customer's ``lastSeen`` to a fresh time (``tick``, or ``at``); return the ids.

        A visited base customer is stored like an inserted one under the same id, so the
        lastSeen order, search and the bodies see the visit at once.
        """
        visited: list[int] = []
        for customer_id in ids:
            ref = self.find(customer_id)
            if ref is None:
                continue
            rec = self.record(ref)
            picks = (rec.identity, rec.place, rec.profile)
            last = self.tick() if at is None else at
            doc = self.doc(ref)
            if ref < 0:
                self._keys.discard(ref, self._inserted.pop(ref))
                del self._inserted_ids[rec.id]
            else:
                if self._deleted is None:
                    self._deleted = bytearray(self.size)
                self._deleted[ref] = 1
                self._deleted_list.append(ref)
            self._add(self._entry(rec.id, rec.first_seen, last, picks, doc))
            visited.append(rec.id)
        self.version += 1
        return visited

    def doc(self, ref: int) -> dict[str, Any] | None:
        """Return the JSON object of a customer written through the API, else None."""
        return self._inserted[ref].doc if ref < 0 else None

    def store(self, doc: dict[str, Any]) -> None:
        """Make ``doc`` the live customer's whole object; its timestamps (and place) stay."""
        ref = self.find(doc["id"])
        if ref is None:
            raise KeyError(f"no customer with id {doc['id']}")
        rec = self.record(ref)
        # Replaced in place, not deleted: ``removing`` (customer.deleted) is not told.
        self._remove([ref], deleting=False)
        picks = (rec.identity, rec.place, rec.profile)
        self._add(self._entry(rec.id, rec.first_seen, rec.last_seen, picks, doc))
        self.version += 1

    def create(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Add a customer made through the API (a fresh high id, null timestamps); return it."""
        ident = self._take_high_id()
        entry = self._entry(ident, NULL_TS, NULL_TS, (0, 0, 0), {"id": ident, **doc})
        self._add(entry)
        self.version += 1
        return entry.doc or {}

    def _entry(self, ident: int, first: int, last: int, picks: Picks, doc: Any) -> Inserted:
        if doc is None:  # a pool customer: encoded from its picks
            return Inserted(ident, first, last, self._encode(ident, first, last, picks), picks)
        doc = {**doc, "firstSeen": self._ts_value(first), "lastSeen": self._ts_value(last)}
        return Inserted(ident, first, last, msgspec.json.encode(doc), picks, doc)

    def _take_low_id(self) -> int:
        if self._low_id < 1:
            raise ValueError("no ids left below the dataset's first id")
        self._low_id -= 1
        return self._low_id + 1

    def _take_high_id(self) -> int:
        self._high_id += 1 + self._rng.randrange(ID_STRIDE)
        return self._high_id

    def delete(
        self,
        count: int,
        position: str = "start",
        *,
        sort: str | None = None,
        descending: bool = False,
    ) -> list[int]:
        """Remove ``count`` customers from ``position`` of the given order; return their ids."""
        if position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, got {position!r}")
        count = min(count, self.total)
        if position == "start":
            refs = self.refs(0, count, sort, descending=descending)
        elif position == "end":
            refs = self.refs(self.total - count, count, sort, descending=descending)
        else:
            where = self._rng.sample(range(self.total), count)
            refs = [self.refs(p, 1, sort, descending=descending)[0] for p in where]
        return self._remove(refs)

    def _is_deleted(self, index: int) -> bool:
        return self._deleted is not None and bool(self._deleted[index])

    def delete_ids(self, ids: Iterable[int]) -> list[int]:
        """Remove the customers with these ids; return the ids that were present."""
        refs = [ref for ref in map(self.find, ids) if ref is not None]
        return self._remove(refs)

    def _remove(self, refs: list[int], *, deleting: bool = True) -> list[int]:
        removed: list[int] = []
        tell = self.removing if deleting else None
        for ref in refs:
            if tell is not None and (ref < 0 or not self._is_deleted(ref)):
                tell(self.body(ref))
            if ref < 0:
                record = self._inserted.pop(ref)
                self._keys.discard(ref, record)
                del self._inserted_ids[record.id]
                removed.append(record.id)
                continue
            if self._deleted is None:
                self._deleted = bytearray(self.size)
            if not self._deleted[ref]:
                self._deleted[ref] = 1
                self._deleted_list.append(ref)
                removed.append(self.base_id(ref))
        self.version += 1
        return removed
