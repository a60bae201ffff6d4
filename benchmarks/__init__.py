"""Benchmarks of helpcrunch-async against the emulator: ``python -m benchmarks --quick``.

Each part is a module with ``run(quick) -> dict``; `benchmarks.__main__` runs them
all and writes ``benchmarks/RESULTS.md`` and ``benchmarks/requests_over_time.png``.
"""
