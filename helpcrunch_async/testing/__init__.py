"""An embedded HelpCrunch emulator: a real aiohttp.web server for tests and benchmarks."""
