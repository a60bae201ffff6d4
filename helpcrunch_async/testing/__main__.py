"""Run the emulator: ``python -m helpcrunch_async.testing --port 0 --customers 50000``.

``python -m helpcrunch_async.testing trigger EVENT --url URL --secret-file F`` sends one
webhook instead (see ``_webhook_cli``).
"""

import argparse
import sys

from helpcrunch_async._cli.help_format import HelpFormatter
from helpcrunch_async.testing._cli import configure, run
from helpcrunch_async.testing._webhook_cli import trigger_main


def main() -> int:
    """Parse the command line and serve until interrupted (or run ``trigger``)."""
    if sys.argv[1:2] == ["trigger"]:
        return trigger_main(sys.argv[2:])
    parser = argparse.ArgumentParser(
        prog="python -m helpcrunch_async.testing",
        description="Serve an emulated HelpCrunch API on loopback.",
        formatter_class=HelpFormatter,
    )
    configure(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
