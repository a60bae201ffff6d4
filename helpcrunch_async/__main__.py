"""``python -m helpcrunch_async``: the same command line as ``helpcrunch-async``."""

from helpcrunch_async._cli import main

raise SystemExit(main())
