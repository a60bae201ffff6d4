"""The command line's parser: each command module adds itself; `run` parses and dispatches."""

from __future__ import annotations

import argparse
import sys

from helpcrunch_async._cli import demo, emulator, export, imports, sync
from helpcrunch_async._cli import exit_codes as codes
from helpcrunch_async._cli.help_format import HelpFormatter

__all__ = ["parser", "run"]


def run(argv: list[str], *, as_program: bool) -> int:
    """Parse ``argv``, run the command it names, return the exit code.

    ``as_program`` (the process's own command line) lets a command ignore
    SIGINT and SIGTERM once its summary is out, as the process ends next.
    """
    if argv[:1] == [emulator.NAME]:
        return emulator.run(argv[1:])
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        # argparse exits 2 on a usage error and 0 after --help.
        return exc.code if isinstance(exc.code, int) else codes.USAGE
    args.as_program = as_program
    try:
        code: int = args.command(args)
    except KeyboardInterrupt:
        # Ctrl-C before the command's own handler is in place (or after it is gone).
        sys.stderr.write("interrupted\n")
        return codes.INTERRUPTED
    return code


def parser() -> argparse.ArgumentParser:
    """Return the parser of every command."""
    top = argparse.ArgumentParser(
        prog="helpcrunch-async",
        description=(
            "Export HelpCrunch customers, chats, messages, agents or departments; "
            "try the emulated API with `demo`."
        ),
        epilog=codes.HELP_TEXT,
        formatter_class=HelpFormatter,
    )
    commands = top.add_subparsers(required=True, metavar="COMMAND")
    export.add(commands)
    imports.add(commands)
    demo.add(commands)
    sync.add(commands)
    emulator.add(commands)
    return top
