"""An import through writes whose answers are lost after they were applied: still once each.

The emulator applies some writes, then drops the connection or answers 500 (the
cases whose fate a client cannot see). The import's writes go through the client's
write rules: the batch and tag PUTs repeat safely, a create whose answer was lost is
read back by its key instead of being sent again. The account ends with every row
applied once, no duplicate, and the summary counts each row once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from import_fixtures import rows, write_jsonl

import helpcrunch_async as hc
from helpcrunch_async._import.engine import ImportOptions, import_file
from helpcrunch_async.testing import Emulator

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize("kind", ["drop", "500"])
async def test_lost_answers_after_applied_writes_apply_every_row_once(
    kind: str, tmp_path: Path
) -> None:
    records = rows(20, 20)
    source = tmp_path / "rows.jsonl"
    write_jsonl(source, records)
    async with Emulator(customers=0, fault_seed=5) as emulator:
        async with hc.HelpCrunch(emulator.api_key, base_url=emulator.base_url) as client:
            for record in records[:20]:
                await client.customers.create(user_id=record["userId"], name="Before")
        # Seeded without faults; from here on, three writes in ten lose their answer.
        if kind == "drop":
            emulator.write_faults.drop_rate = 0.3
        else:
            emulator.write_faults.error_rate = 0.3
        result = await import_file(
            ImportOptions(
                source=source,
                format="jsonl",
                match="user_id",
                mode="upsert",
                api_key=emulator.api_key,
                base_url=emulator.base_url,
                window=10,
            )
        )
        customers = emulator.truth_customers()
        struck = [entry for entry in emulator.log if entry.fault == f"applied-{kind}"]
    assert struck, "no write was struck: the test would prove nothing"
    assert result.state == "complete", result.error
    assert (result.counts.created, result.counts.updated, result.counts.rejected) == (20, 20, 0)
    keys = [c["userId"] for c in customers]
    assert sorted(keys) == sorted(r["userId"] for r in records)
    by_key = {c["userId"]: c for c in customers}
    for record in records:
        assert by_key[record["userId"]]["notes"] == record["notes"]
        assert "Imported" in {t["name"] for t in by_key[record["userId"]]["tags"]}
