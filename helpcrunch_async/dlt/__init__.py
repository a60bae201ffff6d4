"""A dlt source for HelpCrunch, and the ``helpcrunch-async sync`` command behind it.

Needs the ``dlt`` extra: ``pip install 'helpcrunch-async[dlt]'`` (dlt and DuckDB).
The names below load dlt on first use, so that the command line can offer
``sync`` without importing dlt until it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from helpcrunch_async.dlt._source import (
        DELETED_COLUMN,
        RESOURCES,
        SyncReport,
        TableReport,
        helpcrunch_source,
    )

__all__ = ["DELETED_COLUMN", "RESOURCES", "SyncReport", "TableReport", "helpcrunch_source"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from helpcrunch_async.dlt import _source  # noqa: PLC0415 -- loads dlt on first use

        return getattr(_source, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
