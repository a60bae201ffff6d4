"""A client process: one JSON command a line on stdin, one JSON result a line on stdout.

The harness runs every client (ours and the baselines) in a process of its own, apart
from the emulator's process and from the harness, so that neither shares an event
loop or a CPU budget with the client it measures. Commands:

- ``{"op": "scan", "client": "ours"|"literal"|"sequential", "base_url": ...,
  "rate_limit": R, "rate_period": W, "concurrency": C, "time_budget": s|null}``:
  stream every customer, counting them and keeping none; stop (and say so) once
  ``time_budget`` seconds have passed. The result has the wall time, the time to
  the first customer, this process's CPU seconds and its peak RSS.
- ``{"op": "messages", "client": "ours"|"sequential", "base_url": ..., "rate_limit": R,
  "rate_period": W, "concurrency": C, "chat_ids": [...] | null, "time_budget": s|null}``:
  stream every message of those chats (of every chat, read through
  ``chats.iter_all``, when ``chat_ids`` is null), counting them and keeping none;
  the result is as for ``scan``, with ``messages`` and ``chats`` counted.
- ``{"op": "rss"}``: this process's peak RSS so far (after the imports a scan needs).

Run as ``python -m benchmarks._worker`` from the repository root.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource
import sys
import time
from typing import TYPE_CHECKING, Any

from benchmarks._rss import peak_kb

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

API_KEY = "test-key"


def _open(command: dict[str, Any]) -> tuple[AsyncGenerator[Any, None], contextlib.AsyncExitStack]:
    """Return the customer stream of the requested client and the stack that closes it."""
    client = command["client"]
    base_url = command["base_url"]
    stack = contextlib.AsyncExitStack()
    if client == "ours":
        import helpcrunch_async as hc  # noqa: PLC0415 -- only the client under test is imported

        async def ours() -> AsyncGenerator[Any, None]:
            api = await stack.enter_async_context(
                hc.HelpCrunch(
                    API_KEY,
                    base_url=base_url,
                    rate_limit=command["rate_limit"],
                    rate_period=command["rate_period"],
                    concurrency=command.get("concurrency", 8),
                )
            )
            scan = await stack.enter_async_context(api.customers.iter_all())
            _STATE["scan"] = scan
            async for customer in scan:
                yield customer

        return ours(), stack
    if client == "sequential":
        from benchmarks.baselines import sequential  # noqa: PLC0415 -- as above

        return sequential.iter_customers(base_url, API_KEY), stack
    if client == "literal":
        from benchmarks.baselines import literal  # noqa: PLC0415 -- as above

        return literal.iter_customers(
            base_url,
            API_KEY,
            rate_limit=command["rate_limit"],
            rate_period=command["rate_period"],
        ), stack
    raise ValueError(f"unknown client {client!r}")


_STATE: dict[str, Any] = {}


async def scan(command: dict[str, Any]) -> dict[str, Any]:
    """Stream every customer through one client; return what it cost."""
    _STATE.clear()
    budget = command.get("time_budget")
    stream, stack = _open(command)
    count = 0
    first: float | None = None
    complete = True
    cpu0 = time.process_time()
    t0 = time.monotonic()
    try:
        async with (
            asyncio.timeout(budget),
            stack,
            contextlib.aclosing(stream) as customers,
        ):
            async for _ in customers:
                count += 1
                if first is None:
                    first = time.monotonic() - t0
    except TimeoutError:
        complete = False
    t1 = time.monotonic()
    cpu = time.process_time() - cpu0
    result: dict[str, Any] = {
        "client": command["client"],
        "customers": count,
        "complete": complete,
        "started": t0,
        "ended": t1,
        "wall": t1 - t0,
        "first": first,
        "cpu": cpu,
        "rss_kb": peak_kb(),
    }
    found = _STATE.get("scan")
    if found is not None:
        stats = found.stats
        result["stats"] = {
            name: getattr(stats, name)
            for name in ("requests", "retries", "rate_limited", "pause_seconds", "pages")
        }
    return result


def _open_messages(
    command: dict[str, Any],
) -> tuple[AsyncGenerator[Any, None], contextlib.AsyncExitStack]:
    """Return the message stream of the requested client and the stack that closes it."""
    client = command["client"]
    base_url = command["base_url"]
    ids = command.get("chat_ids")
    stack = contextlib.AsyncExitStack()
    if client == "ours":
        import helpcrunch_async as hc  # noqa: PLC0415 -- only the client under test is imported

        async def ours() -> AsyncGenerator[Any, None]:
            api = await stack.enter_async_context(
                hc.HelpCrunch(
                    API_KEY,
                    base_url=base_url,
                    rate_limit=command["rate_limit"],
                    rate_period=command["rate_period"],
                    concurrency=command.get("concurrency", 8),
                )
            )
            chats = api.chats.iter_all() if ids is None else ids
            scan = await stack.enter_async_context(api.chats.iter_messages_of(chats))
            _STATE["scan"] = scan
            async for message in scan:
                yield message

        return ours(), stack
    if client == "sequential":
        from benchmarks.baselines import sequential_messages  # noqa: PLC0415 -- as above

        return sequential_messages.iter_messages(base_url, API_KEY, ids), stack
    raise ValueError(f"unknown client {client!r}")


async def messages(command: dict[str, Any]) -> dict[str, Any]:
    """Stream every message of the chats through one client; return what it cost."""
    _STATE.clear()
    budget = command.get("time_budget")
    stream, stack = _open_messages(command)
    count = 0
    chats: set[int] = set()
    complete = True
    cpu0 = time.process_time()
    t0 = time.monotonic()
    try:
        async with asyncio.timeout(budget), stack, contextlib.aclosing(stream) as items:
            last = None
            async for message in items:
                count += 1
                chat = message["chat"] if isinstance(message, dict) else message.chat
                if chat != last:
                    last = chat
                    chats.add(chat)
    except TimeoutError:
        complete = False
    t1 = time.monotonic()
    result: dict[str, Any] = {
        "client": command["client"],
        "messages": count,
        "chats_with_messages": len(chats),
        "complete": complete,
        "started": t0,
        "ended": t1,
        "wall": t1 - t0,
        "cpu": time.process_time() - cpu0,
        "rss_kb": peak_kb(),
    }
    found = _STATE.get("scan")
    if found is not None:
        stats = found.stats
        result["stats"] = {
            name: getattr(stats, name, None)
            for name in ("requests", "retries", "rate_limited", "pause_seconds", "pages")
        }
    return result


def _current_rss_kb() -> int:
    """Return this process's resident set size now, in KiB (Linux), or 0 if unknown."""
    try:
        pages = int(open("/proc/self/statm").read().split()[1])  # noqa: PTH123, SIM115 -- one read
    except (OSError, ValueError, IndexError):
        return 0
    return pages * resource.getpagesize() // 1024


def main() -> int:
    """Serve commands until stdin closes."""
    # The client's retry and pause warnings are expected here; the emulator's log
    # tells the story. Without a handler Python would print them to stderr.
    logging.getLogger("helpcrunch_async").addHandler(logging.NullHandler())
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        try:
            if command["op"] == "scan":
                result = asyncio.run(scan(command))
            elif command["op"] == "messages":
                result = asyncio.run(messages(command))
            elif command["op"] == "rss":
                # Import what a scan of this client imports, then report the peak so far.
                opener = _open_messages if command.get("messages") else _open
                opener({**command, "base_url": "http://127.0.0.1:9/v1"})
                result = {
                    "rss_kb": peak_kb(),
                    "current_kb": _current_rss_kb(),
                }
            else:
                result = {"error": f"unknown op {command['op']!r}"}
        except Exception as error:  # noqa: BLE001 -- reported to the harness, which decides
            result = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
