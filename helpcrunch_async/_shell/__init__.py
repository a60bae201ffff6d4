"""The thin shell: the transport that moves bytes, one call with retries, budgets, scans.

Each module here does I/O or waits, and leaves every decision to `_core`.
"""
