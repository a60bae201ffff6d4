"""The dlt source over loopback: a real pipeline, a real DuckDB file, the emulator's customers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync_fixtures import expected_customers, sync, table, without_nulls

from helpcrunch_async._cli.sync_report import summary_lines
from helpcrunch_async._sync.held import decode_ids, encode_ids

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator


def test_a_full_sync_applies_deletions_as_hard_deletes(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    emulator = helpcrunch_emulator_factory(customers=300, seed=4)
    first = sync(emulator, tmp_path, only=("customers",))
    assert without_nulls(table(tmp_path, "customers")) == expected_customers(emulator)
    # One look at the newest lastSeen (the next cursor), then three pages.
    assert first.requests == 1 + 3
    assert first.full_pass_requests["customers"] == 3
    gone = emulator.delete(5, "random")
    emulator.insert(3, "random")
    report = sync(emulator, tmp_path, only=("customers",), full=True)
    rows = table(tmp_path, "customers")
    assert not set(gone) & set(rows)
    assert without_nulls(rows) == expected_customers(emulator)
    assert (report.tables["customers"].deleted, report.tables["customers"].new) == (5, 3)
    lines = summary_lines(report)
    # A full pass cannot tell what changed: the rows held before are re-read.
    assert lines[1].split() == ["customers", "3", "0", "295", "5"]
    assert f"requests spent: {report.requests}" in lines
    assert "would cost 3 requests" in lines[-1]


def test_held_ids_are_stored_in_a_few_bytes_and_come_back_exactly() -> None:
    ids = [*range(1, 100_001), 250_000, 250_002, 10**12]
    blob = encode_ids(reversed(ids))
    assert list(decode_ids(blob)) == ids
    assert len(blob) < 1_000
    assert list(decode_ids(encode_ids([]))) == []
