"""``make demo-sync`` (``python -m helpcrunch_async.dlt.demo``): a mirror that costs what changed.

It serves an emulated account in a background thread (5,000 customers, 300
chats with their messages, a sliding cap of the real 120 a minute compressed to
40 a second), then:

1. a first ``sync`` into ``demo-output/sync/helpcrunch_sync.duckdb`` (everything;
   the sync's state beside it in ``helpcrunch_sync.dlt/``);
2. changes in the emulator: 50 visits, 10 new customers, 5 deleted, 3 new
   chats, new messages in 5, 2 closed, 2 reassigned;
3. a second ``sync``: a handful of requests, not a full pass;
4. a look into the DuckDB file: how many customers, chats and messages it holds,
   against the emulator's own numbers.

Each run starts from scratch (the folder is emptied first).
"""

from __future__ import annotations

import secrets
import shutil
import sys
from pathlib import Path

import duckdb

from helpcrunch_async.dlt.command import SyncOptions, run_sync, state_folder, summary_lines
from helpcrunch_async.testing import ThreadedEmulator

__all__ = ["main"]

_FOLDER = Path("demo-output/sync")
_RATE_LIMIT, _RATE_PERIOD = 40, 1.0


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
    say = sys.stdout.write
    with ThreadedEmulator(
        customers=customers,
        chats=chats,
        seed=2024,
        api_key=key,
        policy="sliding",
        rate_limit=rate_limit,
        rate_period=rate_period,
    ) as emulator:
        options = SyncOptions(
            api_key=key,
            base_url=emulator.base_url,
            duckdb_file=folder / "helpcrunch_sync.duckdb",
            rate_limit=rate_limit,
            rate_period=rate_period,
        )
        say(
            f"demo: an emulated account at {emulator.base_url}: {customers:,} customers, "
            f"{chats:,} chats\n"
        )
        say(
            f"demo: the mirror is {options.duckdb_file}, the sync's state beside it in "
            f"{state_folder(options)}; dlt's telemetry is off\n"
            "demo: first sync (everything)\n"
        )
        for line in summary_lines(run_sync(options, progress=sys.stderr)):
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
        say(
            "demo: in the emulator: 50 visits, 10 new and 5 deleted customers, 3 new chats, "
            "messages in 5, 2 closed, 2 reassigned\n"
            "demo: second sync (what changed)\n"
        )
        for line in summary_lines(run_sync(options, progress=sys.stderr)):
            say(f"  {line}\n")
        truth = (
            emulator.total,
            emulator.emulator.chats_total,
            sum(emulator.emulator.message_count(c) for c in emulator.expected_chat_ids()),
        )
    with duckdb.connect(str(options.duckdb_file), read_only=True) as con:
        held = tuple(_count(con, name) for name in ("customers", "chats", "messages"))
    say(
        f"demo: {options.duckdb_file} holds {held[0]:,} customers, {held[1]:,} chats, "
        f"{held[2]:,} messages; the emulator has {truth[0]:,}, {truth[1]:,}, {truth[2]:,}\n"
    )
    return 0 if held == truth else 1


def _count(con: duckdb.DuckDBPyConnection, name: str) -> int:
    row = con.execute(f"select count(*) from helpcrunch.{name}").fetchone()  # noqa: S608 -- our fixed table names
    return int(row[0]) if row else 0


if __name__ == "__main__":
    sys.exit(main())
