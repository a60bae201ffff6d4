"""The package's version: read once from the installed metadata, whose one source is pyproject.toml.

``__version__``, the ``User-Agent`` header and the export file's ``tool_version``
all use `VERSION`.
"""

from __future__ import annotations

import importlib.metadata

__all__ = ["VERSION"]

try:
    VERSION = importlib.metadata.version("helpcrunch-async")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover -- a source tree never installed
    VERSION = "0+unknown"
