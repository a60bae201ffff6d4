"""Shared by the import tests: an account with known keys, a file of rows, and the check.

The account is seeded through the API (so every customer has a unique ``userId``);
the file updates some of those customers and adds new ones; `assert_applied_once`
reads the emulator's own account and checks that the file was applied exactly once:
one customer per key (no duplicate), every field of every row in place.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import TYPE_CHECKING, Any

import helpcrunch_async as hc

if TYPE_CHECKING:
    from pathlib import Path

    from helpcrunch_async.testing._thread import ThreadedEmulator

KEY = "sk-import-test"


def seed(emulator: ThreadedEmulator, count: int) -> None:
    """Create ``count`` customers ``old-0`` .. through the API (no cap worth the name)."""

    async def create() -> None:
        async with hc.HelpCrunch(
            KEY, base_url=emulator.base_url, rate_limit=100_000, rate_period=1.0
        ) as client:
            gate = asyncio.Semaphore(8)

            async def one(n: int) -> None:
                async with gate:
                    await client.customers.create(
                        user_id=f"old-{n}",
                        email=f"old{n}@example.org",
                        name=f"Old {n}",
                        company="Before",
                        tags=["Seeded"],
                        custom_data={"Plan": "Free", "Keep": n},
                    )

            await asyncio.gather(*(one(n) for n in range(count)))

    asyncio.run(create())


def rows(existing: int, new: int) -> list[dict[str, Any]]:
    """Return rows updating ``existing`` seeded customers and adding ``new`` ones (JSONL form)."""
    out: list[dict[str, Any]] = []
    for n in range(existing + new):
        old = n < existing
        out.append(
            {
                "userId": f"old-{n}" if old else f"new-{n}",
                "email": f"old{n}@example.org" if old else f"new{n}@example.org",
                "name": f"Imported {n}",
                "notes": f"row {n}",
                "customData": [
                    {"property": "Plan", "value": "Pro"},
                    {"property": "Seats", "value": n % 7},
                ],
                "tags": [{"name": "Imported"}],
            }
        )
    return out


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    """Write ``records`` as JSONL."""
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


def assert_applied_once(emulator: ThreadedEmulator, records: list[dict[str, Any]]) -> None:
    """Check the account holds every row exactly once, merged into what was there."""
    customers = emulator.truth_customers()
    keys = Counter(customer["userId"] for customer in customers)
    duplicates = {key: n for key, n in keys.items() if n > 1}
    assert not duplicates, f"duplicate customers: {duplicates}"
    by_key = {customer["userId"]: customer for customer in customers}
    for record in records:
        customer = by_key.get(record["userId"])
        assert customer is not None, f"row {record['userId']} lost"
        for name in ("email", "name", "notes"):
            assert customer[name] == record[name], (record["userId"], name)
        custom = _custom(customer["customData"])
        for item in record["customData"]:
            assert custom.get(item["property"]) == item["value"], (record["userId"], item)
        tags = {tag["name"] for tag in customer["tags"]}
        assert {tag["name"] for tag in record["tags"]} <= tags, record["userId"]
        if record["userId"].startswith("old-"):
            # Merged, never replaced: what the row does not name stays.
            assert customer["company"] == "Before"
            assert "Seeded" in tags
            assert "Keep" in custom


def _custom(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    return {item["property"]: item["value"] for item in raw}


def journal(source: Path) -> dict[str, Any]:
    """Return the import's checkpoint beside ``source``."""
    path = source.with_name(source.name + ".import.checkpoint.json")
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def import_args(source: Path, base_url: str, *extra: str) -> list[str]:
    """Return the arguments of an import of ``source`` into the account at ``base_url``."""
    return ["import", "customers", "--in", str(source), "--base-url", base_url, *extra]
