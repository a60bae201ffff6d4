"""The command line's refusals of a run that must not start or resume.

This module is pure: one exception class, shared by the export, the import and
their checkpoints.
"""

from __future__ import annotations

__all__ = ["ExportRefusedError"]


class ExportRefusedError(Exception):
    """An export or import that must not start or resume; the message says why and what to do."""
