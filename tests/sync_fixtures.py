"""Shared pieces of the sync tests: run a real dlt pipeline into a DuckDB file, read it back."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import duckdb
import msgspec
from dlt.common.normalizers.naming.snake_case import NamingConvention

from helpcrunch_async._models.agents import Agent, Department
from helpcrunch_async._models.chats import Chat
from helpcrunch_async._models.customers import Customer, decode_customer
from helpcrunch_async._models.messages import Message
from helpcrunch_async.dlt.command import SyncOptions, run_sync

if TYPE_CHECKING:
    from pathlib import Path

    from helpcrunch_async.dlt import SyncReport
    from helpcrunch_async.testing._thread import ThreadedEmulator

# High enough that the tests spend their time in dlt, not waiting for the cap.
FAST = {"rate_limit": 2000, "rate_period": 1.0}
_NAMES = NamingConvention()


def sync(
    emulator: ThreadedEmulator, folder: Path, *, only: tuple[str, ...] = (), **options: Any
) -> SyncReport:
    """Run one sync of ``emulator`` into ``folder``/mirror.duckdb (dlt's state in folder)."""
    settings: dict[str, Any] = {**FAST, **options}
    return run_sync(
        SyncOptions(
            api_key=emulator.api_key,
            base_url=emulator.base_url,
            duckdb_file=folder / "mirror.duckdb",
            pipelines_dir=folder / "pipelines",
            only=only,
            **settings,
        )
    )


def table(folder: Path, name: str) -> dict[int, dict[str, Any]]:
    """Return the rows of ``name`` by id, JSON columns parsed, dlt's own columns left out."""
    with duckdb.connect(str(folder / "mirror.duckdb"), read_only=True) as con:
        cursor = con.execute(f"select * from helpcrunch.{name}")  # noqa: S608 -- test table names
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    out: dict[int, dict[str, Any]] = {}
    for row in rows:
        record = {c: _parsed(v) for c, v in zip(columns, row, strict=True) if not c.startswith("_")}
        out[record["id"]] = record
    return out


def _parsed(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def as_row(record: dict[str, Any]) -> dict[str, Any]:
    """Return an API record (our Struct's JSON) with dlt's column names; nulls dropped."""
    return {_NAMES.normalize_identifier(k): v for k, v in record.items() if v is not None}


def expected_customers(emulator: ThreadedEmulator) -> dict[int, dict[str, Any]]:
    """Every customer the emulator has, as our model reads it, keyed by id."""
    out: dict[int, dict[str, Any]] = {}
    for customer_id in emulator.expected_ids():
        body = emulator.customer_json(customer_id)
        assert body is not None
        out[customer_id] = as_row(msgspec.to_builtins(decode_customer(body)))
    return out


def without_nulls(rows: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Rows with their null cells dropped (dlt adds a column only once a value needs it)."""
    return {i: {k: v for k, v in r.items() if v is not None} for i, r in rows.items()}


def _typed(records: list[dict[str, Any]], model: type[msgspec.Struct]) -> dict[int, dict[str, Any]]:
    """API JSON records read through our model (as the client reads them), by id."""
    out: dict[int, dict[str, Any]] = {}
    for record in records:
        typed = msgspec.json.decode(msgspec.json.encode(record), type=model)
        row = as_row(msgspec.to_builtins(typed))
        out[row["id"]] = row
    return out


def truth(emulator: ThreadedEmulator) -> dict[str, dict[int, dict[str, Any]]]:
    """Every table the mirror must hold, from the emulator's own data."""
    chats = emulator.truth_chats()
    messages = [m for chat in chats for m in emulator.truth_messages(chat["id"])]
    return {
        "customers": _typed(emulator.truth_customers(), Customer),
        "chats": _typed(chats, Chat),
        "messages": _typed(messages, Message),
        "agents": _typed(emulator.truth_agents(), Agent),
        "departments": _typed(emulator.truth_departments(), Department),
    }


def mirror(folder: Path) -> dict[str, dict[int, dict[str, Any]]]:
    """Every table of the mirror, null cells dropped."""
    names = ("customers", "chats", "messages", "agents", "departments")
    return {name: without_nulls(table(folder, name)) for name in names}
