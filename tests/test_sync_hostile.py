"""The sync against servers the docs do not rule out: short pages, either message order, a clock.

A real dlt pipeline loads into a real DuckDB file; after each sync every table
must equal the emulator's data field by field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sync_fixtures import expected_customers, mirror, sync, table, truth, without_nulls

from helpcrunch_async._cli.sync_report import summary_lines
from helpcrunch_async.testing import Account, Faults, WireVariants

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator

YEAR_2100 = 4_102_444_800


@pytest.mark.parametrize("page_cap", [50, 80])
def test_a_server_that_serves_short_pages_is_mirrored_exactly(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path, page_cap: int
) -> None:
    # A page cap the docs do not rule out: a second sync with nothing changed
    # hard-deleted live customers, and a first sync kept 4,343 of 5,330 messages.
    emulator = helpcrunch_emulator_factory(
        customers=400,
        chats=30,
        seed=21,
        account=Account(messages_per_chat=120.0),
        faults=Faults(page_cap=page_cap),
    )
    sync(emulator, tmp_path)
    assert mirror(tmp_path) == truth(emulator)
    idle = sync(emulator, tmp_path)
    assert all(t.deleted == 0 for t in idle.tables.values())
    assert mirror(tmp_path) == truth(emulator)
    gone = emulator.delete(1, "random")
    visited = emulator.visit(count=120)
    report = sync(emulator, tmp_path)
    assert report.tables["customers"].deleted == len(gone) == 1
    assert report.tables["customers"].changed == len(set(visited) - set(gone))
    assert mirror(tmp_path) == truth(emulator)


def test_messages_listed_oldest_first_reach_the_mirror(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    emulator = helpcrunch_emulator_factory(
        customers=50,
        chats=20,
        seed=22,
        account=Account(messages_per_chat=150.0),
        variants=WireVariants(messages_order="oldest"),
    )
    sync(emulator, tmp_path)
    assert mirror(tmp_path) == truth(emulator)
    for chat_id in emulator.expected_chat_ids()[:6]:
        emulator.add_messages(chat_id, 10)
    report = sync(emulator, tmp_path)
    assert report.tables["messages"].new == 60
    assert mirror(tmp_path) == truth(emulator)


def test_one_future_timestamp_does_not_poison_the_cursor(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    # One customer seen "in 2100" (a server clock that jumped) became the
    # cursor, and every later visit was missed until --full.
    emulator = helpcrunch_emulator_factory(customers=300, seed=23)
    sync(emulator, tmp_path, only=("customers",))
    (future,) = emulator.visit(emulator.expected_ids()[:1], at=YEAR_2100)
    sync(emulator, tmp_path, only=("customers",))
    assert without_nulls(table(tmp_path, "customers")) == expected_customers(emulator)
    later = set(emulator.visit(count=25)) - {future}
    report = sync(emulator, tmp_path, only=("customers",))
    assert without_nulls(table(tmp_path, "customers")) == expected_customers(emulator)
    # The 2100 customer is read again every run (it may have changed); it is
    # a re-read, not a change: its lastSeen did not move.
    customers = report.tables["customers"]
    assert (customers.changed, customers.reread) == (len(later), 1)


def test_an_idle_account_reports_no_change(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    # "customers 1 changed, agents 5 changed, departments 2 changed" on an
    # account where nothing happened.
    emulator = helpcrunch_emulator_factory(
        customers=300, chats=20, seed=24, account=Account(agents=5)
    )
    sync(emulator, tmp_path)
    report = sync(emulator, tmp_path)
    assert {name: t.changed for name, t in report.tables.items()} == dict.fromkeys(report.tables, 0)
    assert report.tables["agents"].reread == 5
    assert report.tables["departments"].reread == 2
    header, *rows = summary_lines(report)[:6]
    assert header.split() == ["table", "new", "changed", "re-read", "deleted"]
    assert all(row.split()[1:3] == ["0", "0"] for row in rows)
