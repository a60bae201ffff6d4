from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys

import aiohttp
import pytest
from emulator_wire import CLIENT_TIMEOUT

from helpcrunch_async.testing._cli import configure

pytestmark = pytest.mark.timeout(60)


async def start(*options: str) -> tuple[asyncio.subprocess.Process, str]:
    """Start the emulator's command line on port 0 and read its base URL."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "helpcrunch_async.testing",
        "--port",
        "0",
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
    match = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+/v1)\n", line)
    assert match, line
    return process, match.group(1)


async def stop(process: asyncio.subprocess.Process, signum: int) -> int:
    process.send_signal(signum)
    return await asyncio.wait_for(process.wait(), 10)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_serves_until_signalled_then_exits_zero(signum: int) -> None:
    process, base_url = await start(
        "--customers", "50", "--api-key", "cli-key", "--policy", "sliding",
        "--rate-limit", "2", "--rate-period", "10", "--fail", "1=503",
        "--drift", "after=1,insert=5",
    )  # fmt: skip
    try:
        headers = {"Authorization": "Bearer cli-key"}
        async with aiohttp.ClientSession(headers=headers, timeout=CLIENT_TIMEOUT) as session:
            statuses = []
            for _ in range(3):
                async with session.get(base_url + "/customers") as response:
                    statuses.append(response.status)
                    if response.status == 200:
                        assert (await response.json())["total"] == 55
            async with session.get(base_url.removesuffix("/v1") + "/_emulator/log") as response:
                assert [e["status"] for e in await response.json()] == [503, 200, 429]
        assert statuses == [503, 200, 429]
    finally:
        if process.returncode is None:
            code = await stop(process, signum)
    assert code == 0


async def test_bad_options_exit_two_without_serving() -> None:
    for options in (["--policy", "leaky"], ["--drift", "sometime"], ["--fail", "1=teapot"]):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "helpcrunch_async.testing", "--port", "0", *options,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 2, (options, err)
        assert out == b""


def test_configure_adds_options_with_documented_defaults() -> None:
    parser = argparse.ArgumentParser()
    configure(parser)
    args = parser.parse_args([])
    assert (args.host, args.port, args.customers, args.policy) == ("127.0.0.1", 8080, 1000, "none")
    assert (args.rate_limit, args.rate_period, args.retry_after) == (120, 60.0, True)
    args = parser.parse_args(["--no-retry-after", "--count-rejected", "--fail", "2=hang"])
    assert (args.retry_after, args.count_rejected, args.fail) == (False, True, ["2=hang"])
