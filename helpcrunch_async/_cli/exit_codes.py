"""The command line's exit codes, which a scheduler can act on, and what each means.

One table for every command (``export``, ``sync``, ``import``, ...): a command
that ends for a reason in it exits with its code, and `exit_code_for` maps an
error that ended a command to its code. README's "Exit codes" section is this
table.
"""

from __future__ import annotations

import sys

from helpcrunch_async._errors import (
    AuthenticationError,
    HelpCrunchError,
    InvalidParameterError,
    RateLimitError,
)
from helpcrunch_async._export.checkpoint import ExportRefusedError

__all__ = [
    "AUTH",
    "FAILED",
    "HELP_TEXT",
    "INTERRUPTED",
    "LOCAL",
    "OK",
    "RATE_LIMITED",
    "REJECTED",
    "USAGE",
    "exit_code_for",
    "fail",
]

OK = 0
# The machine, not the API: the output could not be written (disk full, permissions),
# the sync's state could not be read, another process holds its DuckDB file.
LOCAL = 1
USAGE = 2
AUTH = 3
FAILED = 4
# The API asked for a pause longer than --max-rate-limit-wait (or kept answering 429):
# a scheduler should run the same command with --resume after the time printed.
RATE_LIMITED = 5
# The import only: every row is settled, but some were rejected (see FILE.rejects.jsonl).
REJECTED = 6
# 128 + SIGINT, as a shell reports a Ctrl-C; SIGTERM ends the same way on purpose,
# since both mean "stopped on request, resumable".
INTERRUPTED = 130

HELP_TEXT = """\
exit codes:
  0    success (the export or import is complete; the sync loaded what it read)
  1    local failure: the output file could not be written (the sync: its
       state cannot be read, or another process holds the DuckDB file)
  2    usage error: bad options, no API key, or an export or import refused (the
       file exists without --resume/--overwrite, or --resume with other settings)
  3    authentication error: the API refused the key (401/403)
  4    any other API or transport error, once retries are spent (resumable)
  5    rate limited: the API asked to wait longer than --max-rate-limit-wait,
       or kept answering 429; resumable after the time printed
  6    import: done, but some rows were rejected: see FILE.rejects.jsonl
  130  interrupted by SIGINT or SIGTERM (the checkpoint is current; resumable)"""


def exit_code_for(error: BaseException) -> int:
    """Return the exit code for an error that ended a command."""
    if isinstance(error, InvalidParameterError | ExportRefusedError):
        return USAGE
    if isinstance(error, AuthenticationError):
        return AUTH
    if isinstance(error, RateLimitError):
        return RATE_LIMITED
    if isinstance(error, HelpCrunchError):
        return FAILED
    if isinstance(error, OSError):
        return LOCAL
    return FAILED


def fail(code: int, message: str) -> int:
    """Write ``error: message`` to stderr and return ``code`` (the one error line of the CLI)."""
    sys.stderr.write(f"error: {message}\n")
    return code
