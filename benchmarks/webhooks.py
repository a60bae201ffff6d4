"""Webhook receiving: verified events per second per core with dedup, and the dedup's memory.

Three measurements, each against a baseline in the same run:

* ``core``: one process calls the receivers' shared logic (`Receiver.deliver`:
  verify the HMAC, decode the typed event, check freshness, claim and release
  in `MemoryDedup`, call a no-op handler) on signed bodies with 10%
  duplicates; CPU time (``time.process_time``), so the rate is per core. The
  baseline is the hand-written receiver most bridges use: ``hmac`` +
  ``compare_digest``, ``json.loads`` to a dict, a ``set`` of ids.
* ``http``: the same bodies POSTed over loopback to a receiver process
  (``aiohttp.web`` with `aiohttp_handler`, or uvicorn with `asgi_app`),
  16 in flight; the rate is events per CPU second *of the server process*
  (``/proc/<pid>/stat``), so the client's own CPU on this shared machine does
  not count. The baseline is the hand-written receiver on the same server.
* ``memory``: ``tracemalloc`` after a million distinct event ids (UUID
  strings, as HelpCrunch sends) went through `MemoryDedup(window=1_000_000)`,
  against a ``set`` of the id strings.

Run ``python -m benchmarks.webhooks [--quick]`` from the repository root; it
prints a Markdown section for RESULTS.md.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import json
import os
import socket
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from helpcrunch_async import webhooks
from helpcrunch_async.webhooks._receiver import Receiver

SECRET = "bench-secret"  # noqa: S105 -- a benchmark's key
NOW = 1_700_000_400
DUPLICATES = 0.10
IN_FLIGHT = 16


def bodies(count: int) -> list[bytes]:
    """``count`` deliveries of message events (about 600 bytes each), 10% of them duplicates."""
    unique = int(count * (1 - DUPLICATES))
    made = [
        json.dumps(
            {
                "event": "message.chat.customer",
                "eventData": {
                    "chat_id": 7340012 + n,
                    "agent": None,
                    "customer": {"id": 880001 + n, "name": "Ann", "email": "ann@example.org"},
                    "message": {
                        "applicationId": 12,
                        "createdAt": "1700000100.500",
                        "edited": False,
                        "id": 55101 + n,
                        "read": False,
                        "text": "Any update on my order? " * 4,
                        "updatedAt": "1700000100.500",
                    },
                },
                "attempts": 0,
                "lastAttemptAt": NOW,
                "createdAt": NOW,
                "id": str(uuid.UUID(int=n)),
            }
        ).encode()
        for n in range(unique)
    ]
    return made + made[: count - unique]


def core(count: int) -> dict[str, Any]:
    """Events per CPU second through `Receiver.deliver`, and through the hand-written baseline."""
    sent = bodies(count)
    signatures = [webhooks.sign(body, SECRET) for body in sent]
    handled = 0

    async def handle(event: webhooks.Event) -> None:
        nonlocal handled
        del event
        handled += 1

    async def ours() -> float:
        receiver = Receiver(handle, secret=SECRET, clock=lambda: NOW)
        start = time.process_time()
        for body, signature in zip(sent, signatures, strict=True):
            await receiver.deliver(body, [signature])
        return time.process_time() - start

    def baseline() -> float:
        key = SECRET.encode()
        seen: set[str] = set()
        start = time.process_time()
        for body, signature in zip(sent, signatures, strict=True):
            expected = hmac.new(key, body, hashlib.sha1).hexdigest()
            if not hmac.compare_digest(expected, signature.strip().lower()):
                continue
            event = json.loads(body)
            if event["id"] in seen:
                continue
            seen.add(event["id"])
        return time.process_time() - start

    ours_s = min(asyncio.run(ours()) for _ in range(3))
    base_s = min(baseline() for _ in range(3))
    return {
        "events": count,
        "handled_per_round": handled // 3,
        "ours_per_cpu_s": count / ours_s,
        "baseline_per_cpu_s": count / base_s,
        "ours_us_per_event": ours_s / count * 1e6,
        "ratio": base_s / ours_s,
    }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime, fields 14 and 15 of stat(5), counted after the ")".
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def http(kind: str, count: int) -> dict[str, Any]:
    """POST ``count`` signed deliveries to a receiver process; events per server CPU second."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.webhooks", "--serve", kind, str(port)
    )
    url = f"http://127.0.0.1:{port}/"
    sent = bodies(count)
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=IN_FLIGHT)
        ) as session:
            async with asyncio.timeout(30):
                while True:
                    try:
                        async with session.get(url) as answer:
                            await answer.read()
                        break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)
            statuses: dict[int, int] = {}
            queue = iter(sent)

            async def worker() -> None:
                for body in queue:
                    headers = {"X-HelpCrunch-Signature": webhooks.sign(body, SECRET)}
                    async with session.post(url, data=body, headers=headers) as answer:
                        statuses[answer.status] = statuses.get(answer.status, 0) + 1

            cpu_before = _cpu_seconds(server.pid)
            wall = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
            wall = time.perf_counter() - wall
            cpu = _cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()
        await server.wait()
    return {
        "server": kind,
        "events": count,
        "statuses": statuses,
        "server_cpu_s": cpu,
        "per_server_cpu_s": count / cpu,
        "wall_per_s": count / wall,
    }


def memory(ids: int) -> dict[str, Any]:
    """Bytes traced for ``ids`` distinct UUID ids: `MemoryDedup` against a set of the strings."""
    results = {}
    for name in ("ours", "set"):
        gc.collect()
        tracemalloc.start()
        if name == "ours":
            store = webhooks.MemoryDedup(window=ids)
            for n in range(ids):
                event_id = str(uuid.UUID(int=n))
                store.claim_now(event_id)
                store.release_now(event_id, done=True)
            kept: object = store
        else:
            seen: set[str] = set()
            for n in range(ids):
                seen.add(str(uuid.UUID(int=n)))
            kept = seen
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        results[name] = current
        del kept
    return {
        "ids": ids,
        "ours_mb": results["ours"] / 1e6,
        "set_mb": results["set"] / 1e6,
        "ours_bytes_per_id": results["ours"] / ids,
        "set_bytes_per_id": results["set"] / ids,
        "ratio": results["ours"] / results["set"],
    }


def run(quick: bool) -> dict[str, Any]:
    """Run every measurement (``quick``: fewer events; the memory test always uses 1M ids)."""
    count = 5_000 if quick else 20_000
    return {
        "core": core(count),
        "http": [
            asyncio.run(http(kind, count // 2))
            for kind in ("aiohttp", "naive-aiohttp", "uvicorn", "naive-uvicorn")
        ],
        "memory": memory(1_000_000),
        "load_average_1min": os.getloadavg()[0],
    }


def table(result: dict[str, Any]) -> str:
    """The RESULTS.md section's body."""
    c, m = result["core"], result["memory"]
    lines = [
        (
            f"Signed `message.chat.customer` deliveries (~600 bytes), {DUPLICATES:.0%} duplicates; "
            f"machine load (1 min) {result['load_average_1min']:.2f} at the end."
        ),
        "",
        "| path | events | events per CPU second | baseline | ours / baseline |",
        "|---|---:|---:|---:|---:|",
        (
            f"| `Receiver.deliver` in process (verify, typed decode, freshness, MemoryDedup, "
            f"handler) | {c['events']:,} | {c['ours_per_cpu_s']:,.0f} "
            f"({c['ours_us_per_event']:.1f} µs each) | {c['baseline_per_cpu_s']:,.0f} "
            f"(hmac + json.loads + set) | {c['ratio']:.2f}x |"
        ),
    ]
    served = {h["server"]: h for h in result["http"]}
    for kind in ("aiohttp", "uvicorn"):
        h, naive = served.get(kind), served.get(f"naive-{kind}")
        if h is None or naive is None:
            continue
        lines.append(
            f"| over loopback HTTP, {kind} server process, {IN_FLIGHT} in flight "
            f"| {h['events']:,} | {h['per_server_cpu_s']:,.0f} per server CPU s "
            f"({h['wall_per_s']:,.0f}/s wall; statuses {h['statuses']}) "
            f"| {naive['per_server_cpu_s']:,.0f} (hmac + json.loads + set, same server; "
            f"statuses {naive['statuses']}) "
            f"| {h['per_server_cpu_s'] / naive['per_server_cpu_s']:.2f}x |"
        )
    lines += [
        "",
        "| dedup of 1,000,000 ids | traced MB | bytes per id |",
        "|---|---:|---:|",
        (
            f"| `MemoryDedup(window=1_000_000)` (64-bit keyed digests) | {m['ours_mb']:.1f} "
            f"| {m['ours_bytes_per_id']:.0f} |"
        ),
        f"| baseline: `set` of the id strings | {m['set_mb']:.1f} | {m['set_bytes_per_id']:.0f} |",
        "",
        f"MemoryDedup holds a million ids in {m['ratio']:.0%} of the baseline's memory.",
    ]
    return "\n".join(lines)


def _naive_status(body: bytes, signature: str, seen: set[str]) -> int:
    """The baseline receiver: what most bridges hand-write (hmac, json.loads, a set of ids)."""
    expected = hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        return 401
    seen.add(json.loads(body)["id"])
    return 200


def _serve(kind: str, port: int) -> None:
    """The receiver process of the ``http`` measurement (a no-op handler, no tolerance check).

    ``kind`` is ``aiohttp`` or ``uvicorn`` (ours), or ``naive-aiohttp`` or
    ``naive-uvicorn`` (the baseline on the same server).
    """
    seen: set[str] = set()

    async def handle(event: webhooks.Event) -> None:
        del event

    if kind.endswith("uvicorn"):
        import uvicorn  # noqa: PLC0415 -- only in the server process

        async def naive_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            body, more = b"", True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            signature = next(
                (v.decode() for k, v in scope["headers"] if k == b"x-helpcrunch-signature"), ""
            )
            status = _naive_status(body, signature, seen)
            headers = [(b"content-length", b"0")]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": b""})

        app: Any = (
            naive_asgi
            if kind.startswith("naive")
            else webhooks.asgi_app(handle, secret=SECRET, tolerance=None)
        )
        uvicorn.run(
            app,
            host="127.0.0.1",
            port=port,
            log_level="error",
            access_log=False,
            lifespan="off" if kind.startswith("naive") else "on",
        )
        return
    from aiohttp import web  # noqa: PLC0415 -- only in the server process

    async def naive(request: web.Request) -> web.Response:
        body = await request.read()
        signature = request.headers.get("X-HelpCrunch-Signature", "")
        return web.Response(status=_naive_status(body, signature, seen))

    web_app = web.Application()
    route = (
        naive
        if kind.startswith("naive")
        else webhooks.aiohttp_handler(handle, secret=SECRET, tolerance=None)
    )
    web_app.router.add_route("*", "/", route)
    web.run_app(web_app, host="127.0.0.1", port=port, access_log=None, print=None)


def main() -> None:
    """``--serve KIND PORT`` runs a receiver; otherwise measure and print the section."""
    if sys.argv[1:2] == ["--serve"]:
        _serve(sys.argv[2], int(sys.argv[3]))
        return
    quick = "--quick" in sys.argv
    started = time.perf_counter()
    result = run(quick)
    print("## Webhooks: verified events per second, dedup memory\n")
    print(f"`python -m benchmarks.webhooks{' --quick' if quick else ''}`\n")
    print(table(result))
    print(f"\n_webhooks: {time.perf_counter() - started:.0f} s._")


if __name__ == "__main__":
    main()
