"""``make demo-sync`` (``python -m helpcrunch_async._cli.sync_demo``): a mirror at little cost.

It serves an emulated account in a background thread (5,000 customers, 300
chats with their messages, a sliding cap of the real 120 a minute compressed to
40 a second), then:

1. a first ``sync`` into ``demo-output/sync/helpcrunch_sync.duckdb`` (everything;
   the sync's state beside it in ``helpcrunch_sync.dlt/``);
2. changes in the emulator: 50 visits, 10 new customers, 5 deleted, 3 new
   chats, new messages in 5, 2 closed, 2 reassigned, and one customer's email
   edited by an agent: no timestamp moves, so no search can see it, but its
   ``customer.email_updated`` webhook reaches a ``listen`` server (on a
   thread here) and waits in the inbox;
3. a second ``sync --inbox``: a handful of requests, not a full pass;
4. a look into the DuckDB file: how many customers, chats and messages it holds,
   against the emulator's own numbers, and the edited email.

Each run starts from scratch (the folder is emptied first).
"""

from __future__ import annotations

import secrets
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from helpcrunch_async._cli.sync_report import SyncDisplay, summary_lines
from helpcrunch_async.dlt.command import SyncOptions, inbox_path, run_sync, state_folder
from helpcrunch_async.testing import Subscription, ThreadedEmulator
from helpcrunch_async.webhooks._listen import ListenOptions, ListenThread

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["main"]

_FOLDER = Path("demo-output/sync")
_RATE_LIMIT, _RATE_PERIOD = 40, 1.0
# The email an agent gives a customer in the demo (announced only by a webhook).
_ANNOUNCED = "announced.by.webhook@example.org"


def main(
    folder: Path = _FOLDER,
    *,
    customers: int = 5_000,
    chats: int = 300,
    rate: tuple[int, float] = (_RATE_LIMIT, _RATE_PERIOD),
) -> int:
    """Run the demo in ``folder``; return the exit code (0 when the file matches the account)."""
    rate_limit, rate_period = rate
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    key = secrets.token_urlsafe(24)
    hook_secret = secrets.token_urlsafe(24)
    say = sys.stdout.write
    options = SyncOptions(
        api_key=key,
        base_url="http://127.0.0.1",  # set below, once the emulator listens
        duckdb_file=folder / "helpcrunch_sync.duckdb",
        rate_limit=rate_limit,
        rate_period=rate_period,
    )
    inbox = inbox_path(options)
    inbox.parent.mkdir(parents=True, exist_ok=True)
    listener = ListenThread(ListenOptions("127.0.0.1", 0, hook_secret, inbox))
    url = listener.start()
    try:
        return _run(options, url, hook_secret, (customers, chats), say)
    finally:
        listener.stop()


def _run(
    options: SyncOptions,
    url: str,
    hook_secret: str,
    sizes: tuple[int, int],
    say: Callable[[str], object],
) -> int:
    customers, chats = sizes
    rate_limit, rate_period = options.rate_limit, options.rate_period
    with ThreadedEmulator(
        customers=customers,
        chats=chats,
        seed=2024,
        api_key=options.api_key,
        policy="sliding",
        rate_limit=rate_limit,
        rate_period=rate_period,
        webhooks=[Subscription(url, hook_secret, ["customer.email_updated"])],
    ) as emulator:
        options = replace(options, base_url=emulator.base_url)
        say(
            f"demo: an emulated account at {emulator.base_url}: {customers:,} customers, "
            f"{chats:,} chats\n"
        )
        say(
            f"demo: the mirror is {options.duckdb_file}, the sync's state beside it in "
            f"{state_folder(options)}; dlt's telemetry is off\n"
            "demo: first sync (everything)\n"
        )
        for line in summary_lines(run_sync(options, progress=SyncDisplay.logging_to(sys.stderr))):
            say(f"  {line}\n")
        emulator.visit(count=50)
        emulator.insert(10, "random")
        emulator.delete(5, "random")
        emulator.add_chats(3)
        chat_ids = emulator.expected_chat_ids()
        for chat_id in chat_ids[:5]:
            emulator.add_messages(chat_id, 2)
        for chat_id in chat_ids[5:7]:
            emulator.close_chat(chat_id)
        for chat_id in chat_ids[7:9]:
            emulator.reassign_chat(chat_id, None)
        edited = emulator.expected_ids()[0]
        emulator.edit_customer(edited, "customer.email_updated", email=_ANNOUNCED)
        emulator.webhooks_settled(30.0)
        say(
            "demo: in the emulator: 50 visits, 10 new and 5 deleted customers, 3 new chats, "
            f"messages in 5, 2 closed, 2 reassigned; customer {edited}'s email edited (no "
            f"timestamp moves; its webhook went to {url}, into the inbox)\n"
            "demo: second sync (what changed), with --inbox\n"
        )
        report = run_sync(
            replace(options, inbox=inbox_path(options)), progress=SyncDisplay.logging_to(sys.stderr)
        )
        for line in summary_lines(report):
            say(f"  {line}\n")
        truth = (
            emulator.total,
            emulator.emulator.chats_total,
            sum(emulator.emulator.message_count(c) for c in emulator.expected_chat_ids()),
        )
    with duckdb.connect(str(options.duckdb_file), read_only=True) as con:
        held = tuple(_count(con, name) for name in ("customers", "chats", "messages"))
        found = con.execute(
            "select email from helpcrunch.customers where id = ?", [edited]
        ).fetchone()
    email = found[0] if found else None
    say(
        f"demo: {options.duckdb_file} holds {held[0]:,} customers, {held[1]:,} chats, "
        f"{held[2]:,} messages; the emulator has {truth[0]:,}, {truth[1]:,}, {truth[2]:,}\n"
        f"demo: customer {edited}'s email in the mirror: {email} (the webhook brought it)\n"
    )
    return 0 if held == truth and email == _ANNOUNCED else 1


def _count(con: duckdb.DuckDBPyConnection, name: str) -> int:
    row = con.execute(f"select count(*) from helpcrunch.{name}").fetchone()  # noqa: S608 -- our fixed table names
    return int(row[0]) if row else 0


if __name__ == "__main__":
    sys.exit(main())
