"""The command line's exit codes, which a scheduler can act on, and what each means."""

from __future__ import annotations

from helpcrunch_async._errors import AuthenticationError, HelpCrunchError, InvalidParameterError

__all__ = [
    "AUTH",
    "FAILED",
    "HELP_TEXT",
    "INTERRUPTED",
    "LOCAL",
    "OK",
    "USAGE",
    "exit_code_for",
]

OK = 0
# The machine, not the API: the output could not be written (disk full, permissions).
LOCAL = 1
USAGE = 2
AUTH = 3
FAILED = 4
# 128 + SIGINT, as a shell reports a Ctrl-C; SIGTERM ends the same way on purpose,
# since both mean "stopped on request, resumable".
INTERRUPTED = 130

HELP_TEXT = """\
exit codes:
  0    success (the export is complete)
  1    local failure: the output file could not be written
  2    usage error: bad options, no API key, or an export refused (the file
       exists without --resume/--overwrite, or --resume with other settings)
  3    authentication error: the API refused the key (401/403)
  4    any other API or transport error, once retries are spent (resumable)
  130  interrupted by SIGINT or SIGTERM (the checkpoint is current; resumable)"""


def exit_code_for(error: BaseException) -> int:
    """Return the exit code for an error that ended a command."""
    if isinstance(error, InvalidParameterError):
        return USAGE
    if isinstance(error, AuthenticationError):
        return AUTH
    if isinstance(error, HelpCrunchError):
        return FAILED
    if isinstance(error, OSError):
        return LOCAL
    return FAILED
