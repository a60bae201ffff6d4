"""The sync's room: its pure plans (`plan`, `inbox`), held ids (`held`) and reads (`reads`).

Also the run's one client and its request count (`session`), the source's
argument checks (`checks`), and the inbox file's events taken and settled
exactly once (`inbox_file`). The dlt source (`helpcrunch_async.dlt`) is only
dlt: it asks these modules what to read and hands dlt what they read; it
imports nothing else private (tests/test_architecture.py, rule 5).
"""
