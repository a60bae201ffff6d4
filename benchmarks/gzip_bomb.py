"""A gzip bomb: peak RSS of one read with the client's body bound, against aiohttp's read().

A page answered with a gzip body of about 1 MB that inflates to 1 GiB of zero bytes
(256 MiB in quick mode), served on loopback. Each reader runs in a fresh process
(peak RSS is a high-water mark for the life of a process): ``ours`` is
``HelpCrunch.customers.list()`` with the default ``max_body_size`` (8 MiB), which
refuses the body once it inflates past the bound; ``aiohttp read()`` is the
baseline, what the transport did before: read the whole body. The table gives the
peak RSS of each and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import zlib
from typing import Any

import aiohttp
from aiohttp import web

import helpcrunch_async as hc
from benchmarks._rss import peak_kb

MIB = 1024 * 1024
READERS = ("ours", "aiohttp read()")


def _bomb(mebibytes: int) -> bytes:
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(MIB)
    return b"".join(squeeze.compress(block) for _ in range(mebibytes)) + squeeze.flush()


async def _read_once(reader: str, mebibytes: int) -> dict[str, Any]:
    """Serve the bomb on loopback and read it once as ``reader``; return what happened."""
    body = _bomb(mebibytes)

    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Encoding": "gzip"})

    app = web.Application()
    app.router.add_get("/v1/customers", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base_url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    before = peak_kb()
    try:
        if reader == "ours":
            async with hc.HelpCrunch("key", base_url=base_url) as client:
                try:
                    await client.customers.list()
                    outcome = "read"
                except hc.DecodeError:
                    outcome = "refused (DecodeError)"
        else:
            async with (
                aiohttp.ClientSession() as session,
                session.get(base_url + "/customers") as response,
            ):
                outcome = f"read {len(await response.read()) // MIB} MiB"
    finally:
        await runner.cleanup()
    peak = peak_kb()
    return {
        "reader": reader,
        "compressed_mb": len(body) / 1e6,
        "inflated_mib": mebibytes,
        "before_mb": before / 1024,
        "peak_mb": peak / 1024,
        "outcome": outcome,
    }


def run(quick: bool) -> dict[str, Any]:
    """Read the bomb once per reader, each in a fresh process; return their peaks and ratio."""
    mebibytes = 256 if quick else 1024
    rows = []
    for reader in READERS:
        done = subprocess.run(  # noqa: S603 -- our own interpreter and module
            [sys.executable, "-m", "benchmarks.gzip_bomb", reader, str(mebibytes)],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        rows.append(json.loads(done.stdout))
    ours, baseline = rows
    return {"rows": rows, "ratio": baseline["peak_mb"] / ours["peak_mb"]}


def table(result: dict[str, Any]) -> str:
    """Render the rows as a Markdown table."""
    lines = [
        "| reader | body (compressed → inflated) | outcome | RSS before | peak RSS |",
        "|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {r['reader']} | {r['compressed_mb']:.2f} MB → {r['inflated_mib']:,} MiB "
        f"| {r['outcome']} | {r['before_mb']:.0f} MB | {r['peak_mb']:.0f} MB |"
        for r in result["rows"]
    )
    lines.append("")
    lines.append(f"aiohttp read() peaks at {result['ratio']:.0f}x the RSS of ours.")
    return "\n".join(lines)


def main() -> int:
    """Read the bomb once as the reader named on the command line; print the result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("reader", choices=READERS)
    parser.add_argument("mebibytes", type=int)
    args = parser.parse_args()
    sys.stdout.write(json.dumps(asyncio.run(_read_once(args.reader, args.mebibytes))) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
