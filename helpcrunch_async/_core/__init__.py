"""The pure core: every decision the client makes, with no I/O.

Rule: no module in this package imports aiohttp, asyncio, redis or anything else
that moves bytes or reads a clock. Time is an argument. The shell (`_shell`,
`_redis`, `_export`) asks these modules what to do and does it.
"""
