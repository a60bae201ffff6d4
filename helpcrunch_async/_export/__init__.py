"""The ``export`` and ``demo`` commands: crash-safe files, progress, exit codes."""
