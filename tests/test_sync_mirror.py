"""The whole mirror over loopback: first sync, drift in the emulator, a cheap second sync.

A real dlt pipeline loads into a real DuckDB file. After each sync every table
must equal the emulator's data field by field (read through our models, as the
client reads it). The second sync's requests are bounded well below what a
full pass costs, from the emulator's own log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sync_fixtures import mirror, sync, truth

from helpcrunch_async._core.reconcile import deletion_request_bound
from helpcrunch_async.testing import max_in_any_window

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator

CUSTOMERS, CHATS = 600, 40
RATE, PERIOD = 40, 1.0
SECRET = "sk-mirror-0b5e-secret"  # noqa: S105 -- the emulator's made-up key


def test_a_second_sync_after_drift_costs_what_changed_and_matches_field_by_field(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    # A sliding cap on the server; the client is told the same cap.
    emulator = helpcrunch_emulator_factory(
        customers=CUSTOMERS,
        chats=CHATS,
        seed=21,
        api_key=SECRET,
        policy="sliding",
        rate_limit=RATE,
        rate_period=PERIOD,
    )
    first = sync(emulator, tmp_path, rate_limit=RATE, rate_period=PERIOD)
    first_requests = len(emulator.log)
    assert first.requests == first_requests
    assert mirror(tmp_path) == truth(emulator)
    # Every resource drew on one cap: never over it, not one 429.
    assert max_in_any_window([e.time for e in emulator.log], PERIOD) <= RATE
    assert all(e.status != 429 for e in emulator.log)

    # Drift: visits, new and deleted customers, new chats, new messages, chats
    # closed and reassigned.
    emulator.reset_log()
    emulator.visit(count=12)
    emulator.insert(5, "random")
    gone = emulator.delete(4, "random")
    emulator.add_chats(2)
    chat_ids = emulator.expected_chat_ids()
    emulator.add_messages(chat_ids[0], 3)
    emulator.add_messages(chat_ids[5], 1, "agent")
    emulator.close_chat(chat_ids[1])
    emulator.reassign_chat(chat_ids[2], None)

    second = sync(emulator, tmp_path, rate_limit=RATE, rate_period=PERIOD)
    after = mirror(tmp_path)
    assert after == truth(emulator)
    assert not set(gone) & set(after["customers"])
    assert second.tables["customers"].deleted == 4
    assert second.tables["customers"].new == 5

    requests = len(emulator.log)
    assert second.requests == requests
    # A full pass: 6 customer pages, 1 chat page and a request per chat for
    # messages, plus agents and departments: 49 and more (the first sync spent it).
    full_pass = -(-CUSTOMERS // 100) + 1 + CHATS + 2
    assert first_requests >= full_pass
    # The second: high-water + deletion check + a page of visits, a page
    # of new ids; chats: two high-water looks, two searches, one list page;
    # messages of at most 7 changed chats (4 changed, 2 new, overlap); 2 team lists.
    bound = 1 + deletion_request_bound(CUSTOMERS, 4) + 2 + 2 + 3 + 8 + 2
    assert requests <= bound < full_pass
    # What the summary says a full pass of the chats would cost now: 42 chats.
    assert second.full_pass_requests["chats"] == 1 + (CHATS + 2)
    # The API key is in no file the sync wrote (state, trace, schema, DuckDB).
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p for p in files if SECRET.encode() in p.read_bytes()] == []
