"""The ``helpcrunch-async`` command line: one module a command, the shared parts once.

- `options`: the options every command that calls the API shares (key, base
  URL, cap, concurrency, Redis, max-rate-limit-wait, progress) and their checks;
- `exit_codes`: the one table of exit codes, and an error's code;
- `commands`: the parser, which each command module adds itself to;
- `help_format`: how every ``--help`` shows an option's default;
- `export`, `imports` (``import``), `sync`, `listen`, `demo`, `emulator`: a
  command each (``add`` and ``run``); `live` is ``sync --live``, `sync_report`
  what a sync says (its progress line, its summary), `sync_demo` ``make
  demo-sync``.

The progress renderer is `_export.progress.ProgressDisplay`, which every
command draws with. A new command is a module with ``add(commands)`` (its
options, the shared ones through `options`) and ``run(args) -> int``, listed in
`commands`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from helpcrunch_async._export.stopping import ignore_late_signals

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    # Imported on use: the commands import the export and the sync, which import
    # this package's exit codes, so this module must load without them.
    from helpcrunch_async._cli import commands  # noqa: PLC0415

    as_program = argv is None
    try:
        return commands.run(sys.argv[1:] if argv is None else list(argv), as_program=as_program)
    finally:
        if as_program:
            # The command has said how it ended: a Ctrl-C while the interpreter
            # exits must not turn that into a traceback or another exit code.
            ignore_late_signals()
