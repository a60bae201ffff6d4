"""``helpcrunch-async demo``: export an emulated account started in-process, with progress."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from helpcrunch_async._cli.help_format import HelpFormatter

if TYPE_CHECKING:
    import argparse

__all__ = ["add", "run"]


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo`` to ``commands``."""
    demo = commands.add_parser(
        "demo",
        help="export from an embedded emulated account, with progress",
        description="Start an emulated HelpCrunch account in-process and export it.",
        formatter_class=HelpFormatter,
    )
    demo.add_argument("--customers", type=int, default=30_000, help="account size")
    demo.add_argument(
        "--out", type=Path, default=Path("demo-output/customers.jsonl"), help="output file"
    )
    demo.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; return the export's exit code."""
    # Imported here: the demo brings the emulator, which an export never needs.
    from helpcrunch_async._export.demo import run_demo  # noqa: PLC0415

    return run_demo(customers=args.customers, out=args.out)
