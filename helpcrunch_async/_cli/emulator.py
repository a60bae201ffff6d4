"""``helpcrunch-async emulator``: serve an emulated HelpCrunch API on loopback.

The emulator (aiohttp.web, the dataset) loads only for this command, so it
parses its own options (``testing._cli``, shared with ``python -m
helpcrunch_async.testing``): the main parser lists the command for ``--help``
and hands it the rest of the command line.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from helpcrunch_async._cli import exit_codes as codes
from helpcrunch_async._cli.help_format import HelpFormatter

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["NAME", "add", "run"]

NAME = "emulator"
_DESCRIPTION = "Serve an emulated HelpCrunch API on loopback until SIGINT or SIGTERM."


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """List ``emulator`` in ``commands`` (for ``--help``; `run` parses its options)."""
    commands.add_parser(NAME, help="serve an emulated HelpCrunch API on loopback")


def run(argv: Sequence[str]) -> int:
    """Parse the emulator's options from ``argv`` and serve; return the exit code."""
    from helpcrunch_async.testing import _cli as emulator_cli  # noqa: PLC0415 -- see above

    parser = argparse.ArgumentParser(
        prog=f"helpcrunch-async {NAME}", description=_DESCRIPTION, formatter_class=HelpFormatter
    )
    emulator_cli.configure(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else codes.USAGE
    return emulator_cli.run(args)
