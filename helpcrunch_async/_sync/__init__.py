"""The sync's room: its pure plans (`plan`, `inbox`), held ids (`held`) and reads (`reads`).

The dlt source (`helpcrunch_async.dlt`) is only dlt: it asks these modules what
to read and hands dlt what they read.
"""
