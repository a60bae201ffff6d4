"""The live mirror: webhooks a real ``listen`` process stores feed ``sync --inbox``.

The emulator delivers its events (with duplicates and reordering) to
``helpcrunch-async listen`` in a subprocess; a real dlt pipeline loads a real
DuckDB file. After changes that events announce, some of which move no
timestamp (an email, tags, a subscription, a block, with a name changed beside
them that no event mentions), one ``sync --inbox`` makes every table equal the
emulator's data field by field; a sync without the inbox cannot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dlt
import pytest
from live_fixtures import HOOK_SECRET, Listener, applied, edit_customer, snooze_chat, waiting
from sync_fixtures import FAST, mirror, sync, truth

from helpcrunch_async._cli.sync_report import summary_lines
from helpcrunch_async.dlt import helpcrunch_source
from helpcrunch_async.testing import DeliveryFaults, RetrySchedule, Subscription, WebhookSettings

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator

pytestmark = pytest.mark.slow

FAULTY = WebhookSettings(
    schedule=RetrySchedule(delays=(0.05,) * 6),
    faults=DeliveryFaults(duplicate_rate=0.3, reorder_rate=0.3, reorder_wait=0.05, seed=5),
    timeout=5.0,
)


def announced_changes(emulator: ThreadedEmulator) -> dict[str, list[int]]:
    """Change the account in every way events announce; return the ids touched."""
    ids = emulator.expected_ids()
    a, b, c, d = ids[3], ids[40], ids[77], ids[120]
    # Edits that move no timestamp: invisible to every search. The name beside
    # the email is announced by no event.
    edit_customer(emulator, a, "customer.email_updated", email="new@example.org", name="Renamed")
    edit_customer(emulator, a, "customer.email_updated", email="newer@example.org")
    edit_customer(emulator, b, "customer.tags_changed", tags=[{"name": "vip", "color": "#fff"}])
    edit_customer(emulator, c, "customer.unsubscribed", unsubscribed=True, notes="asked us to")
    edit_customer(emulator, c, "customer.subscribed", unsubscribed=False)
    edit_customer(emulator, d, "customer.blocked", blocked=True, phone="+100")
    new = emulator.insert(3, "end")  # customer.new
    gone = emulator.delete(ids=[ids[200], ids[201]])  # customer.deleted
    chats = emulator.expected_chat_ids()
    emulator.reassign_chat(chats[1], None)  # chat.assigned
    emulator.close_chat(chats[2])  # chat.status_updated, chat.closed
    snooze_chat(emulator, chats[3], 4_102_444_800)
    emulator.add_messages(chats[4], 2)  # message.* events
    return {"edited": [a, b, c, d], "new": new, "gone": gone}


def test_one_sync_with_the_inbox_applies_every_announced_change_field_by_field(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    listener = Listener(tmp_path)
    url = listener.start()
    try:
        emulator = helpcrunch_emulator_factory(
            customers=300,
            chats=12,
            seed=19,
            webhooks=[Subscription(url, HOOK_SECRET)],
            webhook_settings=FAULTY,
        )
        sync(emulator, tmp_path, inbox=listener.inbox)
        touched = announced_changes(emulator)
        emulator.webhooks_settled(60.0)
        stored = set(waiting(listener.inbox))
        assert stored

        # Without the inbox the edits that move no timestamp stay unseen.
        sync(emulator, tmp_path)
        stale = mirror(tmp_path)["customers"]
        assert stale[touched["edited"][0]]["email"] != "newer@example.org"
        assert mirror(tmp_path) != truth(emulator)

        report = sync(emulator, tmp_path, inbox=listener.inbox)
        assert mirror(tmp_path) == truth(emulator)
        after = mirror(tmp_path)["customers"]
        assert after[touched["edited"][0]]["name"] == "Renamed"  # announced by no event
        assert not set(touched["gone"]) & set(after)
        # Every event applied once, each customer read once however many named it.
        assert report.inbox is not None
        assert report.inbox.events == len(stored)
        assert report.inbox.customers == len(touched["edited"]) + len(touched["new"])
        assert report.inbox.deleted == len(touched["gone"])
        assert waiting(listener.inbox) == []
        assert set(applied(listener.inbox)) == stored
        assert any(line.startswith("inbox: ") for line in summary_lines(report))
    finally:
        listener.stop()


def test_a_crash_between_the_commit_and_the_settling_applies_nothing_twice(
    helpcrunch_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: Path
) -> None:
    listener = Listener(tmp_path)
    url = listener.start()
    try:
        emulator = helpcrunch_emulator_factory(
            customers=260, chats=6, seed=3, webhooks=[Subscription(url, HOOK_SECRET)]
        )
        sync(emulator, tmp_path, inbox=listener.inbox)
        touched = announced_changes(emulator)
        emulator.webhooks_settled(60.0)
        stored = set(waiting(listener.inbox))
        # A pipeline of one's own: dlt commits the load, and nothing settles the
        # events afterwards (as if the process died right after the commit).
        pipeline = dlt.pipeline(
            "helpcrunch_sync",
            pipelines_dir=str(tmp_path / "pipelines"),
            destination=dlt.destinations.duckdb(str(tmp_path / "mirror.duckdb")),
            dataset_name="helpcrunch",
        )
        source = helpcrunch_source(
            emulator.api_key,
            base_url=emulator.base_url,
            inbox=listener.inbox,
            rate_limit=int(FAST["rate_limit"]),
            rate_period=FAST["rate_period"],
        )
        pipeline.run(source, loader_file_format="parquet")
        assert set(waiting(listener.inbox)) == stored  # applied, not yet settled
        assert mirror(tmp_path)["customers"][touched["edited"][0]]["name"] == "Renamed"

        # The next run settles them from the committed state first: none is applied again.
        report = sync(emulator, tmp_path, inbox=listener.inbox)
        assert report.inbox is not None
        assert report.inbox.events == 0
        assert waiting(listener.inbox) == []
        assert set(applied(listener.inbox)) == stored
        assert mirror(tmp_path) == truth(emulator)
    finally:
        listener.stop()
