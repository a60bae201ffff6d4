"""Run the emulator: ``python -m helpcrunch_async.testing --port 0 --customers 50000``."""

import argparse
import sys

from helpcrunch_async._help_format import HelpFormatter
from helpcrunch_async.testing._cli import configure, run


def main() -> int:
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m helpcrunch_async.testing",
        description="Serve an emulated HelpCrunch API on loopback.",
        formatter_class=HelpFormatter,
    )
    configure(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
