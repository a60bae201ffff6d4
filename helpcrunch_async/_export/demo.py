"""``helpcrunch-async demo``: the whole product in one command, against an emulated account.

It starts the embedded emulator in-process with a realistic account (30,000
customers by default, 50 ms latency with jitter, a sliding-window rate limit),
then runs the real export against it, progress display and all, into
``demo-output/customers.jsonl``. The emulator's limit is the real API's 120
requests a minute compressed to 40 per 2 seconds, so the run takes about 15
seconds instead of two and a half minutes; the client is told the same cap, as
a user would tell it the real one.
"""

from __future__ import annotations

import asyncio
import secrets
import shlex
import shutil
import sys
from pathlib import Path

from helpcrunch_async._export.checkpoint import ExportSettings
from helpcrunch_async._export.run import ExportOptions, export_command
from helpcrunch_async.testing import Emulator, Faults

__all__ = ["run_demo"]

_RATE_LIMIT = 40
_RATE_PERIOD = 2.0
_LATENCY = 0.05
_JITTER = 0.05
_NAME = "helpcrunch-async"


def run_demo(*, customers: int = 30_000, out: Path = Path("demo-output/customers.jsonl")) -> int:
    """Serve an emulated account, export it to ``out`` (overwriting), return the exit code."""
    out.parent.mkdir(parents=True, exist_ok=True)
    code = asyncio.run(_demo(customers, out))
    if code == 0:
        sys.stdout.write(f"{out.resolve()}\n")
        sys.stderr.write(
            "demo: done. Against your own account:\n"
            f"      HELPCRUNCH_API_KEY=... {_command()} export customers "
            "--out customers.jsonl\n"
        )
    return code


def _command() -> str:
    """Return the command as this shell can run it: by name when on the PATH, else by path.

    `make demo` runs from a virtual environment that is not activated, so the
    name alone would be "command not found" there.
    """
    if shutil.which(_NAME) is not None:
        return _NAME
    beside = Path(sys.executable).parent / _NAME
    if beside.is_file():
        try:
            return shlex.quote(str(beside.relative_to(Path.cwd())))
        except ValueError:
            return shlex.quote(str(beside))
    return f"{shlex.quote(sys.executable)} -m helpcrunch_async"


async def _demo(customers: int, out: Path) -> int:
    # A fresh key per run: the demo never needs the user's real one.
    key = secrets.token_urlsafe(24)
    emulator = Emulator(
        customers=customers,
        seed=2024,
        api_key=key,
        policy="sliding",
        rate_limit=_RATE_LIMIT,
        rate_period=_RATE_PERIOD,
        faults=Faults(latency=_LATENCY, jitter=_JITTER),
    )
    async with emulator:
        say = sys.stderr.write
        say(
            f"demo: an emulated HelpCrunch account with {customers:,} customers at "
            f"{emulator.base_url}\n"
            f"      {_LATENCY * 1000:.0f} ms latency (+ up to {_JITTER * 1000:.0f} ms), at most "
            f"{_RATE_LIMIT} requests per {_RATE_PERIOD:g} s (the real API's 120 a minute, "
            "compressed)\n"
            f"demo: exporting every customer to {out}\n"
        )
        options = ExportOptions(
            out=out,
            settings=ExportSettings(
                format="jsonl",
                sort="customers.firstSeen",
                order="asc",
                page_size=100,
                base_url=emulator.base_url,
            ),
            api_key=key,
            overwrite=True,
            rate_limit=_RATE_LIMIT,
            rate_period=_RATE_PERIOD,
        )
        return await export_command(options)
