"""The import benchmark runs end to end on a tiny scale (its counts, no timing)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from benchmarks import import_customers

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


@pytest.mark.parametrize("client", ["ours", "loop"])
async def test_the_import_benchmark_imports_every_row_once(tmp_path: Path, client: str) -> None:
    rows = import_customers._rows(20)
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    measured = await import_customers._measure(client, rows, source)
    assert measured["one_per_key"]
    assert measured["requests"] > 0
