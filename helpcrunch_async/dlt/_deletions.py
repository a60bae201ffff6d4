"""The customers' deletions in a dlt run: counted, seen missing by a full pass, or read by id.

A later run counts id ranges among the held ids up to the last run's highest
(`reconcile_ids`) before its change scan; after the scan, a full pass deletes
what it did not see, and a run with an inbox reads by id the held ids above
the last run's highest that the scan did not see. Each yields hard deletes
(`deleted`) and adds their ids to ``gone``, which the caller reads after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpcrunch_async._sync.reads import read_customers_by_id, reconcile_ids
from helpcrunch_async.dlt._rows import deleted, record

if TYPE_CHECKING:
    from array import array
    from collections.abc import Iterable

    from helpcrunch_async import HelpCrunch
    from helpcrunch_async.dlt._report import TableReport
    from helpcrunch_async.dlt._rows import Batches

__all__ = ["after_scan", "counted_deletions"]


async def after_scan(  # noqa: PLR0917 -- the state of one customers run
    client: HelpCrunch,
    table: TableReport,
    held: Iterable[int],
    since: object,
    last_id: int | None,
    seen: array[int],
    fresh: set[int],
    gone: set[int],
) -> Batches:
    """Yield the deletions a full pass shows, or check the ids the inbox added above."""
    if since is None:
        # A full pass: what we held and did not see is gone.
        seen_set = set(seen)
        missing = sorted(i for i in held if i not in seen_set)
        gone.update(missing)
        if missing:
            table.deleted += len(missing)
            yield deleted(missing)
    elif last_id is not None:
        above = [i for i in held if i > last_id and i not in gone]
        async for batch in _unseen_above(client, table, above, seen, fresh, gone):
            yield batch


async def counted_deletions(  # noqa: PLR0917 -- the state of one customers run
    client: HelpCrunch,
    table: TableReport,
    held: Iterable[int],
    last_id: int | None,
    gone: set[int],
    unknown: list[int],
) -> Batches:
    """Yield the deletions the count finds among the held ids up to the last run's highest.

    Ids above it (brought by the inbox) are checked after the scan
    (`_unseen_above`); ids never held inside the range go to ``unknown``.
    """
    counted = [i for i in held if i not in gone and (last_id is None or i <= last_id)]
    found = await reconcile_ids(client.customers, counted)
    unknown.extend(found.unknown)
    if found.deleted:
        gone.update(found.deleted)
        table.deleted += len(found.deleted)
        yield deleted(found.deleted)


async def _unseen_above(  # noqa: PLR0917 -- each set is one the caller reads after
    client: HelpCrunch,
    table: TableReport,
    above: list[int],
    seen: Iterable[int],
    fresh: set[int],
    gone: set[int],
) -> Batches:
    """Check the held ids above the last run's highest that this run's scans did not see.

    The inbox brought them (a ``customer.new``); the id scan reads every id
    above the last run's highest, so one it did not see was deleted since, or slipped
    past a scan that deletions shifted: a read by id tells which.
    """
    seen_set = set(seen)
    unseen = [i for i in above if i not in seen_set and i not in fresh]
    if not unseen:
        return
    present, missing = await read_customers_by_id(client.customers, unseen)
    if missing:
        gone.update(missing)
        table.deleted += len(missing)
        yield deleted(missing)
    if present:
        fresh.update(c.id for c in present)
        table.reread += len(present)
        yield [record(c) for c in present]
