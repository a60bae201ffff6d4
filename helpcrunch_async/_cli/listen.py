"""``helpcrunch-async listen``: receive HelpCrunch webhooks into the inbox ``sync --inbox`` applies.

`add` registers the command; the receiver itself (verified, deduplicated events
stored, then acknowledged) is `webhooks._listen`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpcrunch_async._cli.help_format import HelpFormatter

if TYPE_CHECKING:
    import argparse

__all__ = ["add", "run"]


def add(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``listen`` to ``commands``."""
    from helpcrunch_async.webhooks import _listen  # noqa: PLC0415 -- loaded with its command

    listen = commands.add_parser(
        "listen",
        help="receive HelpCrunch webhooks into the inbox `sync --inbox` applies",
        description=(
            "Serve the webhook receiver; verified, deduplicated events go to the inbox, "
            "acknowledged once stored."
        ),
        formatter_class=HelpFormatter,
    )
    _listen.configure(listen)
    listen.set_defaults(command=run)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; return the exit code."""
    from helpcrunch_async.webhooks import _listen  # noqa: PLC0415 -- loaded with its command

    return _listen.run(args)
