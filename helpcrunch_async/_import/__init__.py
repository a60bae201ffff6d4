"""The ``import customers`` command: the export's reverse (see `command`)."""
