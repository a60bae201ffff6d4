"""A dlt source for HelpCrunch, and the ``helpcrunch-async sync`` command behind it.

Needs the ``dlt`` extra: ``pip install 'helpcrunch-async[dlt]'`` (dlt and DuckDB).
"""

from helpcrunch_async.dlt._source import (
    DELETED_COLUMN,
    RESOURCES,
    SyncReport,
    TableReport,
    helpcrunch_source,
)

__all__ = ["DELETED_COLUMN", "RESOURCES", "SyncReport", "TableReport", "helpcrunch_source"]
